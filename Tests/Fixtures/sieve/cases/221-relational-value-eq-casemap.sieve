# message: plain
require "relational";
if header :value "eq" "subject" "HELLO THERE" { discard; }
