# The EII hierarchical partitions recorded in tests/test_hierarchical.py.
suppressMessages(library(mclust))
for (s in c("faithful", "iris", "diabetes")) {
  X <- as.matrix(read.csv(paste0(s, ".csv")))
  h <- hc(X, modelName = "EII", use = "SVD")
  for (G in 2:4) {
    cl <- hclass(h, G)
    cat(sprintf("%s|%d|%s|%s\n", s, G, paste(table(cl), collapse = ","), paste(cl, collapse = "")))
  }
}
