"""Code shared by every Jetbridge service: events, settings, Kafka, outbox, telemetry."""
