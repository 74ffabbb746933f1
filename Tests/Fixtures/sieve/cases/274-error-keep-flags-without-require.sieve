# message: plain
keep :flags "\\Seen";
