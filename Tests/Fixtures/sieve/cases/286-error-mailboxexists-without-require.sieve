# message: plain
if mailboxexists "A" { discard; }
