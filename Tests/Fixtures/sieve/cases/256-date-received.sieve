# message: quirks
require "date";
if date :is :zone "+0000" "received" "hour" "21" { discard; }
