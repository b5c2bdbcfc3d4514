"""Audit tools over the Navigator's ledger: verify, timeline, replay, export."""
