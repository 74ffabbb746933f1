# message: many
if header :matches "subject" "*\\**" { discard; }
