# message: plain
require ["date", "relational"];
if date :value "ge" :zone "+0000" "date" "date" "2026-11-30" { discard; }
