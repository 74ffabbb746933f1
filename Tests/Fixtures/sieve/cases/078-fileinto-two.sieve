# message: plain
require "fileinto";
fileinto "A";
fileinto "B";
