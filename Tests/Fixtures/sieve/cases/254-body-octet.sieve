# message: plain
require "body";
if body :comparator "i;octet" :contains "HELLO" { discard; }
