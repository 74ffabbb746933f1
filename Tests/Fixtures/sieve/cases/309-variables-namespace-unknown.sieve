# message: plain
require ["variables", "fileinto"];
fileinto "a${env.x}b";
