# message: plain
if header :contains ["to", "cc"] ["nobody", "carol"] { discard; }
