# message: plain
require "date";
if date :is :zone "+0000" "date" "julian" "61375" { discard; }
