# message: plain
if header :is "subject" "nope" { discard; }
elsif header :contains "subject" "hello" { keep; }
else { discard; }
