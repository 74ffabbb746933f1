# message: plain
if false { keep; } elsif false { keep; } else { discard; }
