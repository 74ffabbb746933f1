# message: plain
if header :is "subject" 5 { discard; }
