# message: many
if address :is "reply-to" "dave@example.com" { discard; }
