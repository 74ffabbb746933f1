# message: plain
require "envelope";
if envelope :is "from" "alice@example.org" { discard; }
