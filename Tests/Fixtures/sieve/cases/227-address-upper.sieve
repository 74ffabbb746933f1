# message: quirks
if address :is "to" "upper@example.com" { discard; }
