# message: plain
require "fileinto";
discard;
fileinto "A";
