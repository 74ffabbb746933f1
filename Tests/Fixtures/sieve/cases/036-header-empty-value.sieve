# message: many
if header :is "x-empty" "" { discard; }
