# message: plain
keep;
require "fileinto";
