"""The ESO stand-in's store client against a store that accepts connections and never
answers (what a SIGSTOPped moto looks like): one timeout, then fail fast until the next
validation, so the stand-in's tick is not held for a timeout per ExternalSecret."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from botocore.exceptions import BotoCoreError
from eso_store import Credentials, ProviderError, SecretsManager


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A listening socket nobody accepts from: connects succeed, reads time out."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def _timed(call: object) -> tuple[float, BaseException]:
    started = time.monotonic()
    with pytest.raises((BotoCoreError, ProviderError)) as caught:
        call()  # type: ignore[operator]
    return time.monotonic() - started, caught.value


def test_a_silent_store_costs_one_timeout_per_validation(silent_endpoint: str) -> None:
    store = SecretsManager(silent_endpoint, Credentials("us-east-1", "id", "key"))
    first, err = _timed(lambda: store.get("jetbridge/a"))
    assert isinstance(err, BotoCoreError) and first >= 1.5  # the 2-s read timeout
    then, err = _timed(lambda: store.fetch("jetbridge/b", None))
    assert isinstance(err, ProviderError) and "store unreachable" in str(err)
    assert then < 1.0  # no network wait (a timeout costs 2 s); room for a loaded machine
    _, err = _timed(lambda: store.push("jetbridge/c", "v", None, False))
    assert isinstance(err, ProviderError)
    again, err = _timed(store.validate)  # the next tick tries the store for real again
    assert isinstance(err, BotoCoreError) and again >= 1.5
    print(f"\nfirst call {first:.2f}s, then {then * 1000:.1f} ms, next validation {again:.2f}s")
