# message: plain
require "imap4flags";
addflag "\\Flagged";
