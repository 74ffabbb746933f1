# message: plain
require ["imap4flags", "fileinto"];
setflag ["\\Seen", "\\Answered"];
fileinto "Read";
