# message: plain
if address :is "from" ["x@y.z", "alice@example.org"] { discard; }
