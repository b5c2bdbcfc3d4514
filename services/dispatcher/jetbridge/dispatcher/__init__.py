"""Jetbridge dispatcher service."""
