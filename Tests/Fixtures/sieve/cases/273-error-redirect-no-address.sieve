# message: plain
redirect;
