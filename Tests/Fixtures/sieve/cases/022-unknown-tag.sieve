# message: plain
if header :frob "subject" "x" { keep; }
