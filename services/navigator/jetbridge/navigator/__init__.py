"""Jetbridge navigator service."""
