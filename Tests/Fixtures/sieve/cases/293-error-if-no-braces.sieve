# message: plain
if true keep;
