# message: plain
# to: carol-alias@example.net
require "vacation";
vacation :addresses "carol@example.net" "I am away.";
