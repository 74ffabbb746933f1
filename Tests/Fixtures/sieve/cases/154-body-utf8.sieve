# message: encoded
require "body";
if body :contains "café" { discard; }
