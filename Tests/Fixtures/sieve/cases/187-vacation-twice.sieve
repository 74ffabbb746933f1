# message: plain
require "vacation";
vacation "one";
vacation "two";
