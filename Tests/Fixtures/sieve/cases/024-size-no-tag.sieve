# message: plain
if size 100 { discard; }
