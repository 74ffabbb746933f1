# message: many
require "relational";
if header :count "gt" "x-tag" "10" { discard; }
