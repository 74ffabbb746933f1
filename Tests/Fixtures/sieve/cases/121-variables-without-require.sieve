# message: plain
set "a" "b";
