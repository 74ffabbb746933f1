# message: plain
if true { require "fileinto"; }
