# message: plain
require "imap4flags";
addflag ["\\Seen", "\\seen", "\\SEEN"];
