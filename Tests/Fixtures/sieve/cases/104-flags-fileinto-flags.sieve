# message: plain
require ["imap4flags", "fileinto"];
addflag "\\Seen";
fileinto :flags "Custom" "Tagged";
