# message: plain
if size :over 408 { discard; }
