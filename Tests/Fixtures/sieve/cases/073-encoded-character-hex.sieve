# message: plain
require "encoded-character";
if header :is "subject" "${hex:48 65}llo there" { discard; }
