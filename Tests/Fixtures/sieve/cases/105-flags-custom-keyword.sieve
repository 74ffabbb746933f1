# message: plain
require "imap4flags";
addflag "$Label1";
