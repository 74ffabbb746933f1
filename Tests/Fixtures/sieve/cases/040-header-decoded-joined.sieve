# message: encoded
if header :is "subject" "École et café réunion" { discard; }
