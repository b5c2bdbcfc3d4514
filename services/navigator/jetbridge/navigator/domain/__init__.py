"""The Navigator's pure domain: aggregates, events, eligibility and the failover saga.

No I/O here (no clock, no network, no database): time comes in as ``now`` (epoch ms),
state comes in as folded aggregates, and every decision returns new events.
"""
