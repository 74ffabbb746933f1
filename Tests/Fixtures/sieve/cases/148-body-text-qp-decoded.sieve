# message: multipart
require "body";
if body :text :contains "Café budget = 12k" { discard; }
