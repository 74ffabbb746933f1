# message: plain
if exists "a:b" { discard; }
