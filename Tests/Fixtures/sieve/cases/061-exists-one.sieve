# message: plain
if exists "subject" { discard; }
