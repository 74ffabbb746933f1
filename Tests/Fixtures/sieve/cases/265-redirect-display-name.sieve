# message: plain
redirect "Bob <bob@example.net>";
