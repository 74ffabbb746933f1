# message: plain
require ["fileinto", "copy"];
redirect :copy "bob@example.net";
fileinto "Sent";
