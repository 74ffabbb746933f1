# message: plain
frobnicate;
