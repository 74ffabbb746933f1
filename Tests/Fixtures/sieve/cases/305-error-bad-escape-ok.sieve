# message: plain
if header :is "subject" "Hel\lo there" { discard; }
