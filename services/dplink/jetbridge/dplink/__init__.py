"""Jetbridge dplink service."""
