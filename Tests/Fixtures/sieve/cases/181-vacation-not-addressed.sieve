# message: plain
# to: someone-else@example.com
require "vacation";
vacation "I am away.";
