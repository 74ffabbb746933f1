# message: plain
if header :is "x-missing" "" { discard; }
