# message: plain
require "reject";
reject "a";
redirect "bob@example.net";
