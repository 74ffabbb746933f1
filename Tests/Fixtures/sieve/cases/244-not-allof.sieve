# message: plain
if not allof (true, false) { discard; }
