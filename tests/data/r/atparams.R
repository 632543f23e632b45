suppressMessages(library(mclust))
f <- function(s, m, G) {
  X <- as.matrix(read.csv(paste0(s, ".csv")))
  fit <- Mclust(X, G = G, modelNames = m, verbose = FALSE)
  es <- estep(data = X, modelName = m, parameters = fit$parameters)
  b <- bic(modelName = m, loglik = es$loglik, n = nrow(X), d = ncol(X), G = G)
  z <- es$z
  cat(sprintf("%s %s %d: at-parameters loglik %.12f bic %.12f icl %.12f\n", s, m, G, es$loglik, b,
              b + 2 * sum(log(apply(z, 1, max)))))
}
f("faithful", "EEE", 3); f("iris", "VVV", 2); f("diabetes", "VVV", 3); f("galaxies", "V", 4); f("faithful", "VVI", 3)
