# message: multipart
require "body";
if body :raw :contains "Caf=E9" { discard; }
