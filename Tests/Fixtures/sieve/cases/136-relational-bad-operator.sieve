# message: plain
require "relational";
if header :value "bigger" "subject" "x" { discard; }
