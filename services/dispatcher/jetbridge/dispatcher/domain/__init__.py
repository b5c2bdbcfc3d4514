"""The Dispatcher's pure core: what to dispatch, where, and which failures to retry."""
