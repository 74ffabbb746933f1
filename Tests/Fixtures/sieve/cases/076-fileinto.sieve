# message: plain
require "fileinto";
fileinto "Archive";
