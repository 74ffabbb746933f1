# message: plain
require ["variables", "fileinto"];
set "a" "one";
set "b" "${a}-two";
fileinto "${b}";
