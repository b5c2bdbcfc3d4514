"""Jetbridge agent service."""
