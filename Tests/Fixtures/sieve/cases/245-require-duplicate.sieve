# message: plain
require ["fileinto", "fileinto"];
fileinto "A";
