# message: encoded
require "date";
if date :is :originalzone "date" "zone" "-0500" { discard; }
