# message: plain
require "reject";
reject "a";
reject "b";
