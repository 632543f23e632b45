suppressMessages({library(mclust)})
sets <- c("faithful", "iris", "diabetes", "acidity", "galaxies")
out <- NULL
for (s in sets) {
  X <- as.matrix(read.csv(paste0(s, ".csv")))
  d <- ncol(X)
  models <- if (d == 1) c("E", "V") else c("VII", "EEE", "VVI", "VVV")
  for (m in models) for (G in 1:9) {
    fit <- tryCatch(Mclust(X, G = G, modelNames = m, verbose = FALSE), error = function(e) NULL)
    if (is.null(fit)) { out <- rbind(out, data.frame(set=s, model=m, G=G, loglik=NA, df=NA, bic=NA, icl=NA)); next }
    out <- rbind(out, data.frame(set=s, model=m, G=G, loglik=sprintf("%.10f", fit$loglik), df=fit$df,
                                 bic=sprintf("%.10f", fit$bic), icl=sprintf("%.10f", icl(fit))))
  }
}
write.csv(out, "mclust_fits.csv", row.names=FALSE)
