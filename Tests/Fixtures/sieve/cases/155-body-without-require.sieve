# message: plain
if body :contains "x" { discard; }
