# message: plain
require "date";
if date :is :originalzone "date" "iso8601" "2026-12-01T10:15:30+01:00" { discard; }
