# message: plain
reject "x";
