# message: quirks
require ["variables", "fileinto"];
if address :localpart :matches "from" "*" { fileinto "lp-${1}"; }
