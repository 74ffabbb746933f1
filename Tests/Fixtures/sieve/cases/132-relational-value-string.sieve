# message: plain
require "relational";
if header :value "gt" "subject" "Apple" { discard; }
