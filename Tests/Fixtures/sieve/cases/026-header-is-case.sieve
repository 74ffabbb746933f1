# message: plain
if header :is "subject" "HELLO THERE" { discard; }
