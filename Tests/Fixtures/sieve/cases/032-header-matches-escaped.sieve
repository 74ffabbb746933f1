# message: many
if header :matches "subject" "Meeting (weekly) \\*important\\*" { discard; }
