# message: plain
if header :is "sub ject" "x" { discard; }
