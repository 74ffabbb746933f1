# message: plain
require "reject";
reject text:
No thanks.
Goodbye.
.
;
