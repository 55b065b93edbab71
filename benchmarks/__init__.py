"""Measured figures of optimstep: start-up, key latency, check overhead, output, history.

Run them with `python -m benchmarks` (or `make bench`). These are measurements, not tests:
nothing here asserts a time. See docs/benchmarks.md for the figures and how they were taken.
"""
