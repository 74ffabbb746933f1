# message: plain
require "body";
if body :contains "unicorn" { discard; }
