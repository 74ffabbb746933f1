# message: plain
fileinto "Foo";
