# message: plain
require ["imap4flags", "variables"];
set "myflags" "";
addflag "myflags" "\\Seen";
if hasflag "myflags" "\\Seen" { discard; }
