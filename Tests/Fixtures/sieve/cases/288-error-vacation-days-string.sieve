# message: plain
require "vacation";
vacation :days "x" "Away";
