# message: plain
if date :is "date" "year" "2026" { discard; }
