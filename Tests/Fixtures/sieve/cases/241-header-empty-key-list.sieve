# message: plain
if header :is "subject" [] { discard; }
