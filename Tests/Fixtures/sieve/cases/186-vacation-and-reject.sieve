# message: plain
require ["vacation", "reject"];
vacation "I am away.";
reject "no";
