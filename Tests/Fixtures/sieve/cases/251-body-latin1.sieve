# message: quirks
require "body";
if body :contains "naïve résumé" { discard; }
