# message: plain
require "body";
if body :raw :contains "Subject" { discard; }
