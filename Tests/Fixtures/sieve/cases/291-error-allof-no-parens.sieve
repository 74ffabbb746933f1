# message: plain
if allof true { discard; }
