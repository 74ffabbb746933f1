# message: plain
if header :is "subject" "x" :comparator { discard; }
