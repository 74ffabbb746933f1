# message: plain
require "body";
if body :contains "invoices" { discard; }
