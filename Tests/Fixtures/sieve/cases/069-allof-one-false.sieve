# message: plain
if allof (exists "subject", false) { discard; }
