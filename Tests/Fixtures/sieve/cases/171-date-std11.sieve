# message: plain
require "date";
if date :is :zone "+0000" "date" "std11" "Tue, 1 Dec 2026 09:15:30 +0000" { discard; }
