# message: plain
require ["variables", "fileinto"];
if header :matches "subject" "*" { fileinto "${10}x"; }
