# message: quirks
if address :domain :is "from" "example.com" { discard; }
