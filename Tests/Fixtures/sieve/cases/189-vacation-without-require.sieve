# message: plain
vacation "x";
