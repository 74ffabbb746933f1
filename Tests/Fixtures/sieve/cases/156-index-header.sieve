# message: many
require "index";
if header :index 2 :is "x-tag" "second" { discard; }
