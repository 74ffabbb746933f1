# message: encoded
if header :is "x-label" "café" { discard; }
