# message: plain
if header :matches "subject" "Hello\\ there" { discard; }
