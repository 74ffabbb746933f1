# message: plain
if header :matches "subject" "*" { discard; }
