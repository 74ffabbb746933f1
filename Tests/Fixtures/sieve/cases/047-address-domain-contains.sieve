# message: plain
if address :domain :contains "cc" "net" { discard; }
