# message: plain
require ["variables", "fileinto"];
if header :matches "subject" ["X*", "H*"] { fileinto "${1}"; }
