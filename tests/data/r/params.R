suppressMessages(library(mclust))
f <- function(s, m, G) {
  X <- as.matrix(read.csv(paste0(s, ".csv")))
  fit <- Mclust(X, G = G, modelNames = m, verbose = FALSE)
  p <- fit$parameters
  d <- ncol(X)
  cat(sprintf("# %s %s G=%d: loglik %.12f df %d bic %.12f icl %.12f n %d\n", s, m, G, fit$loglik, fit$df, fit$bic, icl(fit), nrow(X)))
  cat("weights", sprintf("%.17g", p$pro), "\n")
  cat("means", sprintf("%.17g", as.vector(t(matrix(p$mean, nrow = d)))), "\n")
  S <- p$variance$sigma
  if (d == 1) { cat("sigma", sprintf("%.17g", if (is.null(p$variance$sigmasq)) S else p$variance$sigmasq), "\n") } else
  cat("sigma", sprintf("%.17g", as.vector(aperm(S, c(3, 1, 2)))), "\n")
}
f("faithful", "EEE", 3); f("iris", "VVV", 2); f("diabetes", "VVV", 3); f("galaxies", "V", 4); f("faithful", "VVI", 3)
