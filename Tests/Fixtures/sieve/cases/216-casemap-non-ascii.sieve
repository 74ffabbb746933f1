# message: quirks
if header :is "subject" "éclair and éclair àé" { discard; }
