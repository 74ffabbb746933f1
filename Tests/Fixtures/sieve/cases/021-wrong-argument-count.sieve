# message: plain
if header :is "subject" { keep; }
