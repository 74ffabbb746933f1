# message: plain
if anyof () { discard; }
