# message: plain
if address :contains "cc" "Bob B." { discard; }
