# message: many
if address :matches "to" "*" { discard; }
