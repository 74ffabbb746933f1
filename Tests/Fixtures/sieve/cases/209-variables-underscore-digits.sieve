# message: plain
require ["variables", "fileinto"];
set "my_var1" "ok";
fileinto "${my_var1}";
