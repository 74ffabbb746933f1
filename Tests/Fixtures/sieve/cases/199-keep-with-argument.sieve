# message: plain
keep "x";
