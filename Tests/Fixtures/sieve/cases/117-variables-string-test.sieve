# message: plain
require ["variables"];
set "a" "value";
if string :is "${a}" "value" { discard; }
