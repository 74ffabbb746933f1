# message: plain
require "date";
if date :zone "+0000" :originalzone :is "date" "year" "2026" { discard; }
