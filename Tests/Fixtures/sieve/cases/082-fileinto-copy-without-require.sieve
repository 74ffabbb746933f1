# message: plain
require "fileinto";
fileinto :copy "Copies";
