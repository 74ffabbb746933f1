# message: plain
if exists ["subject", "x-nothere"] { discard; }
