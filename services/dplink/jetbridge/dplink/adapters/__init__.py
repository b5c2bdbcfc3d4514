"""DP-Link adapters: gRPC links to the data planes, Kafka ownership and publishing."""
