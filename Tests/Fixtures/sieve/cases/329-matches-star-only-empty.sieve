# message: many
if header :matches "x-empty" "*" { discard; }
