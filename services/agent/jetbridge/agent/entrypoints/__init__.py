"""Process wiring of the agent (``python -m jetbridge.agent``)."""
