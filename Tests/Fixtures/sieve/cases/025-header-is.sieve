# message: plain
if header :is "Subject" "Hello there" { discard; }
