"""Benchmarks behind ``dagq bench``: measured here, never asserted in tests."""
