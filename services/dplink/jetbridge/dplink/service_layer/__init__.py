"""DP-Link use cases: watch health, publish transitions and facts, supervise links."""
