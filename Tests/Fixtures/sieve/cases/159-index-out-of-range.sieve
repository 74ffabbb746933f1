# message: many
require "index";
if header :index 9 :matches "x-tag" "*" { discard; }
