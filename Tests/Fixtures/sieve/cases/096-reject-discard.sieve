# message: plain
require "reject";
reject "x";
discard;
