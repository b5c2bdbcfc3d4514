"""Process wiring of the Dispatcher (``python -m jetbridge.dispatcher``)."""
