# message: plain
if address :domain :matches "from" "*.org" { discard; }
