# message: plain
if header : "subject" "x" { discard; }
