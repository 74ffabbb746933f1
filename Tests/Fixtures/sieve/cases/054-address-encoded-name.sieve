# message: encoded
if address :is "to" "me@example.com" { discard; }
