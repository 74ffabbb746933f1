# message: plain
discard { keep; }
