# message: plain
require "imap4flags";
setflag "\\Seen";
keep :flags "\\Draft";
