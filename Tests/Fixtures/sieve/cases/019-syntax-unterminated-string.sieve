# message: plain
if header :is "subject" "abc { keep; }
