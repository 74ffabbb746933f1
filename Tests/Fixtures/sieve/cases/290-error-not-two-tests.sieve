# message: plain
if not (true, false) { discard; }
