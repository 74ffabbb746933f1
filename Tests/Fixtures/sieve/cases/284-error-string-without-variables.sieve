# message: plain
if string :is "a" "a" { discard; }
