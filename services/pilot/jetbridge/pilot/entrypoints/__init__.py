"""Process wiring of the Pilot (``python -m jetbridge.pilot``)."""
