"""The Pilot's adapters: clusters (in-memory twin, Kubernetes), fencing, task counts,
event encoding."""
