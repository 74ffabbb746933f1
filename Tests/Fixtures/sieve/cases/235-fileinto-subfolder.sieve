# message: plain
require "fileinto";
fileinto "INBOX.Lists.announce";
