# message: plain
require "date";
if currentdate :matches "date" "20*-*-*" { discard; }
