# message: plain
require "fileinto";
fileinto :create "A";
