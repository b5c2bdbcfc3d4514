"""Use cases of the agent: flights into Flightdeck, heartbeats out on the Link stream."""
