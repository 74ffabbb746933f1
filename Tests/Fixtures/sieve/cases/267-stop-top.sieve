# message: plain
stop;
