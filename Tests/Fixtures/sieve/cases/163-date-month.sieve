# message: plain
require "date";
if date :is :zone "+0100" "date" "month" "12" { discard; }
