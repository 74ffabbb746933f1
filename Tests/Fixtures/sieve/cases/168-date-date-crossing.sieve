# message: encoded
require "date";
if date :is :zone "+0000" "date" "date" "2026-12-03" { discard; }
