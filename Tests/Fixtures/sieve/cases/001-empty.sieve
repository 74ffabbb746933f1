# message: plain

