# message: plain
# difference: see docs/sieve.md
require ["fileinto", "variables"];
fileinto "${nothing}";
