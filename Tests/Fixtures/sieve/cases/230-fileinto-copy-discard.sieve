# message: plain
require ["fileinto", "copy"];
fileinto :copy "Copies";
discard;
