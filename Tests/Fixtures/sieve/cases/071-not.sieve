# message: plain
if not exists "x-nothere" { discard; }
