# message: plain
/* a
 multi-line comment */ keep;
