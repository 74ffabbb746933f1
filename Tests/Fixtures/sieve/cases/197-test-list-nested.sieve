# message: plain
if anyof (allof (true, not false), false) { discard; }
