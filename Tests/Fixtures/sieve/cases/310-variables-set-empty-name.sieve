# message: plain
require "variables";
set "" "x";
