# message: plain
if true { }
