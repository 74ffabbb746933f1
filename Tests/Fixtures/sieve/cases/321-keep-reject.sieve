# message: plain
require "reject";
keep;
reject "no";
