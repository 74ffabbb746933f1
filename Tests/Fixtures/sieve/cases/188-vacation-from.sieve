# message: plain
require "vacation";
vacation :from "me@example.com" "I am away.";
