# message: multipart
require "body";
if body :content "application" :contains "secret" { discard; }
