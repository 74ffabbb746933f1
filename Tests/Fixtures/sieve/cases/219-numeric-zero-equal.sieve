# message: quirks
require "comparator-i;ascii-numeric";
if header :is :comparator "i;ascii-numeric" "x-number" "000" { discard; }
