# message: plain
require "fileinto";
fileinto ["A", "B"];
