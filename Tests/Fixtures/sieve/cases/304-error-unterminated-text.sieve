# message: plain
require "reject";
reject text:
no end
