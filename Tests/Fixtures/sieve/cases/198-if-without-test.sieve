# message: plain
if { keep; }
