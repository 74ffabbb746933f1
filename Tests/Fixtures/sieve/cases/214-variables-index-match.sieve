# message: many
require ["variables", "fileinto", "index"];
if header :index 3 :matches "received" "from * by *" { fileinto "${1}"; }
