# message: plain
if address :is "cc" "carol@example.net" { discard; }
