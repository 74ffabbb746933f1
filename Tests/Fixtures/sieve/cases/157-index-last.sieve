# message: many
require "index";
if header :index 1 :last :is "x-tag" "third" { discard; }
