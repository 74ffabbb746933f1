# message: plain
if header :value "gt" "subject" "x" { discard; }
