# message: plain
if size :over 10X { discard; }
