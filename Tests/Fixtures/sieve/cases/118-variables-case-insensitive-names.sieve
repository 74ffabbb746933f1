# message: plain
require ["variables", "fileinto"];
set "Name" "x";
fileinto "${NAME}";
