# message: plain
if header :is :comparator "i;ascii-numeric" "x-spam-score" "7" { discard; }
