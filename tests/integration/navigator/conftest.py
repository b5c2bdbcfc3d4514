"""The Navigator test world (a sandboxed bus, a real Navigator, scripted data planes)."""

from tests.integration.navigator.test_failover_saga import world

__all__ = ["world"]
