# message: plain
if address :localpart :is "from" "" { discard; }
