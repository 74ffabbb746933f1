# message: plain
discard;
keep;
