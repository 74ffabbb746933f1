# message: quirks
require ["variables", "fileinto"];
if address :all :matches "cc" "*" { fileinto "cc-${1}"; }
