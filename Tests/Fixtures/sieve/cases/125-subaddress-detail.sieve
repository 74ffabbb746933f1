# message: plain
require "subaddress";
if address :detail :is "cc" "lists" { discard; }
