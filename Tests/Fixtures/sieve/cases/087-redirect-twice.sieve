# message: plain
redirect "bob@example.net";
redirect "bob@example.net";
