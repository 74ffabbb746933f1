# message: plain
require ["variables", "fileinto"];
set :lower "a" "ÉCOLE";
fileinto "${a}";
