# message: plain
if header :index 1 :is "x-tag" "a" { discard; }
