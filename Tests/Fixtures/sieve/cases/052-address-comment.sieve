# message: many
if address :is "from" "dave@example.com" { discard; }
