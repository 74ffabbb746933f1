# message: plain
require "variables";
set "a";
