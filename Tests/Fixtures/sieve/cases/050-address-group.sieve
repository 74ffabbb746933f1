# message: many
if address :is "cc" "frank@example.com" { discard; }
