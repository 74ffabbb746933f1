# message: plain
if header :is ["subject"] ["Hello there"] { discard; }
