"""The agent's pure core: flight commands as Flightdeck rows, and the cluster's facts."""
