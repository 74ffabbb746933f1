# message: plain
if header :contains ["x-missing", "subject"] "there" { discard; }
