# message: plain
if frob { keep; }
