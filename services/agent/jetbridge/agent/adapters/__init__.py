"""Adapters of the agent: the gRPC server, proto conversions, fact sources."""
