# message: plain
require ["date", "relational"];
if currentdate :zone "+1400" :value "ge" "year" "2026" { discard; }
