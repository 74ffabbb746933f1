# message: plain
if address :index 1 :is "cc" "x@y" { discard; }
