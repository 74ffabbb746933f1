# message: plain
stop;
discard;
