# message: plain
if true { discard; }
