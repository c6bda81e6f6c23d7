"""Benchmarks of the app layer (``dagq bench canvas``)."""
