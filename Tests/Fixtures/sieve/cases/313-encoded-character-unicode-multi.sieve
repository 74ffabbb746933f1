# message: plain
require ["encoded-character", "fileinto"];
fileinto "${unicode:48 69}";
