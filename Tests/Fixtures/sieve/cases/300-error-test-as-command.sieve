# message: plain
header :is "a" "b";
