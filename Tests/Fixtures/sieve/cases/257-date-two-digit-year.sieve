# message: quirks
require "date";
if date :is :originalzone "date" "year" "2026" { discard; }
