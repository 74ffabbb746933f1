# message: plain
if exists "SUBJECT" { discard; }
