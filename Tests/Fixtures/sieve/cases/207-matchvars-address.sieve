# message: plain
require ["variables", "fileinto"];
if address :matches "cc" "*@*.net" { fileinto "${1}-${2}"; }
