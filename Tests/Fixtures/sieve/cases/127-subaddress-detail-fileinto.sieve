# message: plain
require ["subaddress", "variables", "fileinto"];
if address :detail :matches "cc" "*" { fileinto "${1}"; }
