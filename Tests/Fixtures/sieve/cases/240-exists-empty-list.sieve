# message: plain
if exists [] { discard; }
