# message: plain
require "date";
if currentdate :is "year" "2026" "extra" { discard; }
