# message: encoded
require "encoded-character";
if header :contains "subject" "${unicode:E9}" { discard; }
