# message: plain
require "subaddress";
if address :detail :matches "from" "*" { discard; }
