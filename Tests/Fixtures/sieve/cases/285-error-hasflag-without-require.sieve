# message: plain
if hasflag "\\Seen" { discard; }
