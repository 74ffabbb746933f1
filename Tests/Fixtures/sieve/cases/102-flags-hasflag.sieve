# message: plain
require "imap4flags";
addflag "\\Flagged";
if hasflag "\\flagged" { discard; }
