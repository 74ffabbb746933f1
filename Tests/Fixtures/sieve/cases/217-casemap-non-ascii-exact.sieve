# message: quirks
if header :is "subject" "Éclair and éclair ÀÉ" { discard; }
