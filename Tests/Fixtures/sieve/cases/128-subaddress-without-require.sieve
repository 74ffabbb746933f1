# message: plain
if address :user :is "cc" "bob" { discard; }
