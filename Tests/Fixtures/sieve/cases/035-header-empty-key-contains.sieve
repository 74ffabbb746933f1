# message: plain
if header :contains "subject" "" { discard; }
