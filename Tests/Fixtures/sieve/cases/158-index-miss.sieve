# message: many
require "index";
if header :index 1 :is "x-tag" "second" { discard; }
