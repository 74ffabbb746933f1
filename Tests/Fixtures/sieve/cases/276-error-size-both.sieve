# message: plain
if size :over 1 :under 5 { discard; }
