# message: plain
require "reject";
reject "Not wanted here";
