"""The Dispatcher's use case: hand one planned flight to its data plane, report the outcome."""
