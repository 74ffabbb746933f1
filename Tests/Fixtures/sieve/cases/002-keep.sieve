# message: plain
keep;
