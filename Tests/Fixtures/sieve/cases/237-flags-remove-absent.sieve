# message: plain
require "imap4flags";
removeflag "\\Seen";
keep;
