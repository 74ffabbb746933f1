# message: plain
require "imap4flags";
keep :flags "\\Seen";
