# message: many
# to: me+sieve@example.com
require ["subaddress", "envelope"];
if envelope :detail :is "to" "sieve" { discard; }
