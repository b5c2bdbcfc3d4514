from __future__ import annotations

import json
import logging

from jetbridge.common.logs import JsonFormatter, correlation_scope


def _format(record_factory: logging.Logger, message: str, **extra: object) -> dict[str, object]:
    record = record_factory.makeRecord("x", logging.INFO, "f", 1, message, (), None, extra=extra)
    return json.loads(JsonFormatter("navigator").format(record))  # type: ignore[no-any-return]


def test_json_lines_carry_service_and_correlation_id_inside_a_scope() -> None:
    logger = logging.getLogger("test")
    with correlation_scope("req-42"):
        line = _format(logger, "mission started", mission_id="m1")
    assert line["service"] == "navigator"
    assert line["correlation_id"] == "req-42"
    assert line["mission_id"] == "m1"
    assert line["msg"] == "mission started"
    outside = _format(logger, "idle")
    assert "correlation_id" not in outside
