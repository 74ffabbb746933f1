# message: plain
if header :is :contains "subject" "x" { keep; }
