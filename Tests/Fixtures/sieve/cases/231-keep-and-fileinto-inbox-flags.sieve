# message: plain
require ["fileinto", "imap4flags"];
keep :flags "\\Seen";
fileinto :flags "\\Flagged" "INBOX";
