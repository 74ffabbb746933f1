# message: many
require "index";
if address :index 1 :is "cc" "eve@example.com" { discard; }
