# message: many
require "relational";
if header :value "ne" "x-tag" "first" { discard; }
