# message: plain
require ["variables", "fileinto"];
set "a" "b";
fileinto "x${${a}}y";
