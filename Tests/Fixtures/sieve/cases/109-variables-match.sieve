# message: plain
require ["variables", "fileinto"];
if header :matches "subject" "Hel* *" { fileinto "${1}-${2}"; }
