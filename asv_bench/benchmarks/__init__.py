"""asv benchmarks of fastem: see ../README.md."""
