"""DP-Link's pure core: the health state machine, facts digests, registrations."""
