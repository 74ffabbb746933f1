# message: plain
require "fileinto";
fileinto "Archive";
fileinto "archive";
