"""Benchmarks: dlbook against a reference measured in the same run (see bench/common.py)."""
