# message: plain
if address :is :all "FROM" "ALICE@EXAMPLE.ORG" { discard; }
