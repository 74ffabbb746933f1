# message: plain
require "date";
if date :is :zone "CET" "date" "year" "2026" { discard; }
