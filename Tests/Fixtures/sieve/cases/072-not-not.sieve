# message: plain
if not not true { discard; }
