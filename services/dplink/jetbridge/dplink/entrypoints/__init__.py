"""Process wiring of DP-Link (``python -m jetbridge.dplink``)."""
