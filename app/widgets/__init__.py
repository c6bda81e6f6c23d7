"""Reusable widgets of the dagq app, one per module."""
