"""Dispatcher adapters: the gRPC client of the data planes, Kafka in and out."""
