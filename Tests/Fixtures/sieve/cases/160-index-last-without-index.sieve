# message: many
require "index";
if header :last :is "x-tag" "third" { discard; }
