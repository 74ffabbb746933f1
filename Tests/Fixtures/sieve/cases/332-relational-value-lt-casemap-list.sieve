# message: plain
require "relational";
if address :value "lt" :all "cc" ["a", "c"] { discard; }
