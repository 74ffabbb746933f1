# message: plain
keep
discard;
