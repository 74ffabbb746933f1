# message: plain
require ["envelope", "variables", "fileinto"];
if envelope :all :matches "from" "*@*" { fileinto "${2}"; }
