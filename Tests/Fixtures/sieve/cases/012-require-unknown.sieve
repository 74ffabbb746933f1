# message: plain
require "no-such-extension";
keep;
