# message: plain
keep;
discard;
