# message: plain
require ["relational", "comparator-i;ascii-numeric"];
if header :value "lt" :comparator "i;ascii-numeric" "x-spam-score" "5" { discard; }
