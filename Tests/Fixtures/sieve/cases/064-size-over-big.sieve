# message: plain
if size :over 10K { discard; }
