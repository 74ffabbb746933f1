# message: plain
if address :localpart :is "from" "alice" { discard; }
