# message: plain
require "fileinto";
fileinto "A";
keep;
