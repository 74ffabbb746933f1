# message: many
if header :is "x-tag" "second" { discard; }
