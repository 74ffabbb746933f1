# message: many
if header :matches "subject" "Meeting \\*" { discard; }
