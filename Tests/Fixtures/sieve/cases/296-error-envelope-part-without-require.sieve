# message: plain
if envelope :localpart :is "from" "alice" { discard; }
