"""Simulated sessions with known ground truth: sample data, tests and benchmarks.

One module per kind of session; each generator is seeded and deterministic.
"""
