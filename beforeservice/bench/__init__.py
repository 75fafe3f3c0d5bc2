"""Benchmarks that print figures (never timed tests), and the synthetic population they use."""
