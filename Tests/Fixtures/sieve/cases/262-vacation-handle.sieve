# message: plain
require "vacation";
vacation :handle "h1" :days 1 "Away";
