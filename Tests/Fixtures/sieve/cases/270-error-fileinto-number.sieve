# message: plain
require "fileinto";
fileinto 5;
