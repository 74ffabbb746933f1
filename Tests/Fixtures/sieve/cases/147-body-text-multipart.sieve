# message: multipart
require "body";
if body :text :contains "quarterly report" { discard; }
