# message: plain
require "envelope";
if envelope :is "subject" "x" { discard; }
