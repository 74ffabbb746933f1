# message: multipart
require "body";
if body :content "text" :contains "Quarterly" { discard; }
