# message: plain
if header :CONTAINS "subject" "hello" { discard; }
