# message: plain
require "variables";
set "a" "not an address";
redirect "${a}";
