"""The Pilot's use cases: claim flights, run their cleared steps, relay their events."""
