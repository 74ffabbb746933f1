# message: plain
if header :matches "subject" "Hel*" { discard; }
