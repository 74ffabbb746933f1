# message: plain
# a comment
keep; # after

