# message: plain
if header "subject" :is "x" { discard; }
