"""Console: the operators' HTTP API, live web UI and ``jetbridge`` CLI."""
