# message: bounce
require "vacation";
vacation "I am away.";
