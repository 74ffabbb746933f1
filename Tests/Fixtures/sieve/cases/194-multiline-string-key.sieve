# message: plain
if header :is "subject" text:
Hello there
.
{ discard; }
