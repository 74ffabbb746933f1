# message: plain
if exists "subject" { if exists "x-none" { discard; } else { keep; } }
