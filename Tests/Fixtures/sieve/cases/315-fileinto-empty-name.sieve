# message: plain
# difference: see docs/sieve.md
require "fileinto";
fileinto "";
