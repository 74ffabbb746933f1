# message: plain
require ["variables", "fileinto"];
set "s" "alpha-beta";
if string :matches "${s}" "*-*" { fileinto "${2}"; }
