"""Baseline workers the benchmark compares ours with."""
