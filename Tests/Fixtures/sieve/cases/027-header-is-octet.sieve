# message: plain
if header :comparator "i;octet" :is "subject" "HELLO THERE" { discard; }
