# message: plain
require "reject";
discard;
reject "no";
