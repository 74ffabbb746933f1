# message: plain
require "date";
if date :is :zone "+0000" "date" "year" "2026" { discard; }
