# message: plain
require ["vacation", "fileinto"];
fileinto "Away";
vacation "I am away.";
