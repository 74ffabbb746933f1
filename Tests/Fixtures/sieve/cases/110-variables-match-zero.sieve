# message: plain
require ["variables", "fileinto"];
if header :matches "subject" "*there" { fileinto "${0}"; }
