# message: plain
require "reject";
reject 5;
