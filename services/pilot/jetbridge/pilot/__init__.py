"""Jetbridge pilot service."""
