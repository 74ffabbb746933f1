# message: plain
redirect "<bob@example.net>";
