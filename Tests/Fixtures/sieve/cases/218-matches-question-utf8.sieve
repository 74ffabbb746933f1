# message: quirks
if header :matches "subject" "?clair*" { discard; }
