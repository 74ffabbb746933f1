# message: plain
require ["imap4flags", "relational", "comparator-i;ascii-numeric"];
addflag ["A", "B", "C"];
if hasflag :count "eq" :comparator "i;ascii-numeric" "3" { discard; }
