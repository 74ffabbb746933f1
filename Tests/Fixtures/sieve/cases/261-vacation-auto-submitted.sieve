# message: bounce
require "vacation";
vacation "Away";
