# message: plain
redirect "not an address";
