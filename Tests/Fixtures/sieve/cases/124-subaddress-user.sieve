# message: plain
require "subaddress";
if address :user :is "cc" "bob" { discard; }
