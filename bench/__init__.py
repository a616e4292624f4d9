"""Benchmark and fault soak: ours against the article's recipe and kazoo (see __main__)."""
