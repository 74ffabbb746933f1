# message: plain
if header :is "subject" "${hex:48}ello there" { discard; }
