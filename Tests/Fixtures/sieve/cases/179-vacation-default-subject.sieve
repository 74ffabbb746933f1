# message: plain
require "vacation";
vacation "I am away.";
