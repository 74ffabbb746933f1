# message: plain
require ["variables", "fileinto"];
if address :localpart :matches "from" "*" { fileinto "from-${1}"; }
