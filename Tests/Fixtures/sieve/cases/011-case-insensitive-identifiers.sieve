# message: plain
IF Header :IS "Subject" "hello there" { DISCARD; }
