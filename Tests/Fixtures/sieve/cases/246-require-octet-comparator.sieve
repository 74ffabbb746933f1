# message: plain
require "comparator-i;octet";
if header :comparator "i;octet" :is "subject" "Hello there" { discard; }
