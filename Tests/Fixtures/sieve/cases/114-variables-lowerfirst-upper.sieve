# message: plain
require ["variables", "fileinto"];
set :lowerfirst :upper "f" "mixed";
fileinto "${f}";
