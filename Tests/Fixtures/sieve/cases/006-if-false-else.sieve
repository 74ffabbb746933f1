# message: plain
if false { discard; } else { keep; }
