# message: plain
require ["variables", "fileinto"];
set :quotewildcard "f" "a*b?c";
if string :is "${f}" "a\\*b\\?c" { fileinto "quoted"; }
