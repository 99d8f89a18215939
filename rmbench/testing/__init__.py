"""Helpers for tests and benchmarks: the tiny-model builder."""
