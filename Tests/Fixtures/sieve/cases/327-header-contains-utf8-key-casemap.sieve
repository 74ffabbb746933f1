# message: quirks
if header :contains "subject" "ÉCLAIR" { discard; }
