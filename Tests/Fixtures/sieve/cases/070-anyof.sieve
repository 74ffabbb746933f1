# message: plain
if anyof (false, header :contains "from" "alice") { discard; }
