# message: list
require "vacation";
vacation "I am away.";
