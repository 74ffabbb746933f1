# message: plain
# difference: Pigeonhole 0.5.19 (Debian 12) does not implement the ereject capability; Letterbox does (RFC 5429 §2.2)
require "ereject";
ereject "Not wanted";
