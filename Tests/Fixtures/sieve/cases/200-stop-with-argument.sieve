# message: plain
stop "x";
