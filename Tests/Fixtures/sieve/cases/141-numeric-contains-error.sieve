# message: plain
require "comparator-i;ascii-numeric";
if header :contains :comparator "i;ascii-numeric" "x-spam-score" "7" { discard; }
