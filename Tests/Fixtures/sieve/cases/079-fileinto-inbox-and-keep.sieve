# message: plain
require "fileinto";
fileinto "INBOX";
keep;
