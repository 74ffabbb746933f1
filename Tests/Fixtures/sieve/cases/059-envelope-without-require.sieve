# message: plain
if envelope :is "from" "x@y" { discard; }
