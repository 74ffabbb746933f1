# message: plain
require "envelope";
if envelope :is "to" "me@example.com" { discard; }
