# message: plain
if header :comparator "i;octet" :contains "subject" "hello" { discard; }
