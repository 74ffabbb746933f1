# message: plain
require ["envelope", "fileinto"];
if envelope :is "orig_to" "me@example.com" { fileinto "orig"; }
