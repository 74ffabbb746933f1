# message: plain
# from: MAILER-DAEMON@example.org
require "vacation";
vacation "I am away.";
