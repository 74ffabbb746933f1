# message: plain
if header :comparator ["i;octet"] :is "subject" "Hello there" { discard; }
