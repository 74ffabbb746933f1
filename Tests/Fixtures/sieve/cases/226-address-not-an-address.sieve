# message: quirks
require ["variables", "fileinto"];
if address :localpart :is "to" "not-an-address" { fileinto "found"; }
