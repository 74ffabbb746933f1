# message: plain
if header :contains "x-nothere" "" { discard; }
