# message: plain
require "variables";
set :lower :upper "a" "b";
