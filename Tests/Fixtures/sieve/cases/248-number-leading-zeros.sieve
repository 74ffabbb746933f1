# message: plain
if size :over 010 { discard; }
