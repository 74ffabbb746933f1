# message: plain
require "index";
if header :index 0 :is "x-tag" "a" { discard; }
