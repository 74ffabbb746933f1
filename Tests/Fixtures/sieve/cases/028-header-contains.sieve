# message: plain
if header :contains "subject" "lo th" { discard; }
