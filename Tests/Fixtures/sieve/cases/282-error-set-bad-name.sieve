# message: plain
require "variables";
set "1abc" "x";
