# message: plain
require ["encoded-character", "reject"];
reject text:
${hex:41}
.
;
