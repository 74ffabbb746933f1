# message: plain
if stop { keep; }
