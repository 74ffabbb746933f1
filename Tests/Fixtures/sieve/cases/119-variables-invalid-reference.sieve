# message: plain
require ["variables", "fileinto"];
fileinto "a${-b}c";
