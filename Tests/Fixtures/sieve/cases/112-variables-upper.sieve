# message: plain
require ["variables", "fileinto"];
set :upper "f" "MiXeD";
fileinto "${f}";
