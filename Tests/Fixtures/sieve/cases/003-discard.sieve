# message: plain
discard;
