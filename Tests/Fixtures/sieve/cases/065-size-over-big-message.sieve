# message: big
if size :over 10K { discard; }
