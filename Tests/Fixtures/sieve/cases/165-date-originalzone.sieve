# message: plain
require "date";
if date :is :originalzone "date" "hour" "10" { discard; }
