# message: encoded
if header :contains "subject" "café" { discard; }
