# message: plain
if anyof (true) { discard; }
