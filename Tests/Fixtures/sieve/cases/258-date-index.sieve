# message: many
require ["date", "index"];
if date :index 1 :is :zone "+0000" "received" "second" "03" { discard; }
