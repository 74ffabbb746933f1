# message: plain
require "fileinto";
fileinto "inbox";
