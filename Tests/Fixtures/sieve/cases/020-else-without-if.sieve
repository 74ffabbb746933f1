# message: plain
else { keep; }
