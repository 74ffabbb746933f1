# message: plain
if header :is :comparator "i;frob" "subject" "x" { discard; }
