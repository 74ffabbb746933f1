# message: plain
require ["mailbox", "fileinto"];
if mailboxexists "Nowhere" { fileinto "Nowhere"; } else { fileinto :create "Nowhere"; }
