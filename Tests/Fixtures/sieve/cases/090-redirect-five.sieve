# message: plain
redirect "a1@example.net";
redirect "a2@example.net";
redirect "a3@example.net";
redirect "a4@example.net";
redirect "a5@example.net";
