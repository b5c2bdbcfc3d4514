"""Credential-shaped text is masked before it leaves a process."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jetbridge.common.logs import JsonFormatter
from jetbridge.common.redaction import redact, redact_ungated

SECRET = "s3cr3t-Value_9"

LEAKS = {
    "mysql syntax error": (
        '(1064, "You have an error in your SQL syntax; check the manual near '
        f"'IDENTIFIED BY '{SECRET}'' at line 1\")"
    ),
    "mysql with plugin": f"CREATE USER 'a'@'%' IDENTIFIED WITH mysql_native_password BY '{SECRET}'",
    "postgres role": f"ALTER ROLE a LOGIN PASSWORD '{SECRET}'",
    "dsn": f"cannot connect to postgresql://jetbridge:{SECRET}@db.internal:5432/fencing",
    "dsn with asyncpg scheme": f"postgresql+asyncpg://u:{SECRET}@h/db refused",
    "key value": f"host=db user=a password={SECRET} dbname=x",
    "json field": f'{{"user": "a", "password": "{SECRET}"}}',
    "token field": f"Authorization failed: token={SECRET}",
    "scram verifier": f"PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==${SECRET}:{SECRET}'",
    "airflow secret key": f"AIRFLOW__WEBSERVER__SECRET_KEY={SECRET}",
    "aws secret access key": f"AWS_SECRET_ACCESS_KEY={SECRET} region=eu-west-1",
    "fernet key field": f'{{"fernet_key": "{SECRET}"}}',
    "bearer header": f"Authorization: Bearer {SECRET}",
    "lower-case bearer": f"authorization: bearer {SECRET}",
    "basic header": f"Authorization: Basic {SECRET}",
    "yaml password that starts like no": f"password: no-{SECRET}",
}


@pytest.mark.parametrize("name", sorted(LEAKS))
def test_credentials_are_masked(name: str) -> None:
    masked = redact(LEAKS[name])
    assert SECRET not in masked, masked
    assert "***" in masked


def test_text_without_credentials_is_unchanged() -> None:
    for text in (
        "namespace airflow-d-1 still terminating",
        "image reg.test/org/airflow:1 cannot be pulled: ErrImagePull",
        "fenced with epoch 3, mission carries 2",
        "https://127.0.0.1:16420/api/v1/namespaces refused",  # a URL without userinfo
        "Secret airflow-d/d-fernet-key not Ready (SecretSyncedError)",
        "could not sync secret: store unreachable: connection refused",  # ESO's status
        'password authentication failed for user "airflow_d_a"',  # names the role only
        "Access denied for user 'airflow_d_a'@'10.0.0.7' (using password: YES)",
        "Access denied for user 'airflow_d_a'@'10.0.0.7' (using password: NO)",
        'MountVolume.SetUp failed for volume "fernet-key" : secret "d-fernet" not found',
        'Secret "d-env" is invalid: data[Invalid value: "fernet-key": a valid config key',
        "Basic authentication failed for the registry",
        "ExternalSecret d-1-fernet-key not Ready: the store has no key d-1/fernet-key",
        "the store's d-1/login-a has no 'password' key: write the login role's password "
        "there as a JSON object with a password key (customer-managed users)",
    ):
        assert redact(text) == text


def test_what_is_kept_still_names_the_problem() -> None:
    assert redact(LEAKS["dsn"]) == (
        "cannot connect to postgresql://jetbridge:***@db.internal:5432/fencing"
    )
    assert "near 'IDENTIFIED BY '***''" in redact(LEAKS["mysql syntax error"])


def test_log_lines_and_their_tracebacks_are_masked() -> None:
    try:
        raise RuntimeError(LEAKS["mysql syntax error"])
    except RuntimeError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "connecting to %s", (LEAKS["dsn"],), None
        )
        import sys  # noqa: PLC0415

        record.exc_info = sys.exc_info()
    line = JsonFormatter("test").format(record)
    assert SECRET not in line and line.count("***") >= 2


def test_extra_fields_are_masked_and_plain_values_kept() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "fenced", (), None)
    record.dsn = LEAKS["dsn"]
    record.error = RuntimeError(LEAKS["mysql syntax error"])
    record.attempt = 3
    record.ok = True
    line = json.loads(JsonFormatter("test").format(record))
    assert SECRET not in json.dumps(line)
    assert (line["attempt"], line["ok"]) == (3, True)
    assert "postgresql://jetbridge:***@db.internal" in line["dsn"]


# Pieces credentials and harmless texts are made of, in several cases: the gate must
# let through every text a pattern would change, whatever the mix.
_PIECES = [
    *("password", "PASSWD", "Pwd", "secret", "SECRETS", "token", "Key", "credentials"),
    *("fernet_key", "SECRET_KEY", "api-key", "client.secret", "APPLY_EXTERNAL_SECRETS"),
    *("IDENTIFIED", "identified with x", " BY ", " AS ", "SCRAM-SHA-256$", "scram-sha-256$"),
    *("Authorization", "Bearer ", "basic ", "://", "postgresql://u", "@h", "@"),
    *(":", "=", " = ", ": ", "'", '"', "\\", ",", ";", " ", "\n", "(using ", "YES)"),
    *("x", "s3cr3t-Value_9", "abcdefghijklmnopqrstuvwxyz012345", "\u017fecret", "\u212aey"),
]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))
def test_the_gate_lets_through_every_text_a_pattern_changes(text: str) -> None:
    assert redact(text) == redact_ungated(text)


def test_the_gate_passes_every_known_leak_and_keeps_harmless_lines() -> None:
    # the patterns match case-insensitively as Unicode does: a long s is an "s" to them
    unicode_cases = ("\u017fecret=abc", "pa\u017f\u017fword=abc", "fernet_\u212aey=abc")
    # one per word of the gate, holding no other
    each_word = (
        *("u://a:b@h", "passwd: b", "pwd=b", "IDENTIFIED BY 'b'", "SCRAM-SHA-256$b"),
        *("Bearer abcdefghijklmnopq", "Authorization: Basic b", "secret=b", '"token": "b"'),
        *("api_key=b", "credentials = b"),
    )
    for text in (*LEAKS.values(), *unicode_cases, *each_word):
        assert redact(text) == redact_ungated(text) != text
    line = "flight f-1 steps ['FENCE_DATABASE', 'APPLY_EXTERNAL_SECRETS'] cleared"
    assert redact(line) == line == redact_ungated(line)
