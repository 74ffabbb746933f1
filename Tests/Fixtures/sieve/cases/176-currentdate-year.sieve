# message: plain
require ["date", "relational"];
if currentdate :value "ge" "year" "2025" { discard; }
