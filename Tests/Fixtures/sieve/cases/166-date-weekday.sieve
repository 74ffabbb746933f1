# message: plain
require "date";
if date :is :zone "+0000" "date" "weekday" "2" { discard; }
