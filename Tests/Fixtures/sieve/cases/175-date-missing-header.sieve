# message: plain
require "date";
if date :is "x-nothere" "year" "2026" { discard; }
