# message: plain
require "copy";
redirect :copy "bob@example.net";
