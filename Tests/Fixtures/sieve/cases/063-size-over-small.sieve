# message: plain
if size :over 100 { discard; }
