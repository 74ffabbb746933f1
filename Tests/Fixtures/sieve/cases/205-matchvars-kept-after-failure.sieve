# message: plain
require ["variables", "fileinto"];
if header :matches "subject" "Hel*" { }
if header :matches "subject" "Nope*" { }
fileinto "${1}";
