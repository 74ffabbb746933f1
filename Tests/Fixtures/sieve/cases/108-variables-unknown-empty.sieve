# message: plain
require ["variables", "fileinto"];
fileinto "X${nothing}Y";
