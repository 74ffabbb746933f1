# message: multipart
require "body";
if body :content "text/html" :contains "report" { discard; }
