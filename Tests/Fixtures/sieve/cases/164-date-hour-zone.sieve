# message: plain
require "date";
if date :is :zone "+0000" "date" "hour" "09" { discard; }
