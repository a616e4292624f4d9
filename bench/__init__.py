"""The side-by-side benchmark: ours against the baselines, one ensemble, one run (see
__main__). The randomized correctness soak is the `soak` package."""
