# message: plain
require "body";
if body :matches "*second line*" { discard; }
