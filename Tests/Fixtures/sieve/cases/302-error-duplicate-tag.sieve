# message: plain
if header :comparator "i;octet" :comparator "i;octet" :is "subject" "x" { discard; }
