"""DSN arguments: no password on a command line (``ps`` shows it to every user)."""

from __future__ import annotations

import argparse

import pytest

from jetbridge.common.dsn_argument import dsn_argument


def test_a_dsn_with_a_password_is_refused_and_the_error_does_not_repeat_it() -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        dsn_argument("postgresql://admin:hunter2@db:5432/navigator")
    assert "readable by every user" in str(refused.value) and "env:NAME" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_env_names_a_variable_that_holds_the_whole_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAVIGATOR_DSN", "postgresql://admin:hunter2@db/navigator")
    assert dsn_argument("env:NAVIGATOR_DSN") == "postgresql://admin:hunter2@db/navigator"


def test_an_unset_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(argparse.ArgumentTypeError, match="'NOPE' is not set"):
        dsn_argument("env:NOPE")


def test_a_dsn_without_a_password_passes_as_it_is() -> None:
    assert dsn_argument("postgresql://admin@db/navigator") == "postgresql://admin@db/navigator"
    assert dsn_argument("postgresql:///navigator") == "postgresql:///navigator"


def test_a_password_in_the_query_string_is_refused_too() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="readable by every user"):
        dsn_argument("postgresql://admin@db/navigator?sslmode=require&PASSWORD=hunter2")


def test_an_unparseable_dsn_is_refused_without_repeating_it() -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        dsn_argument("postgresql://admin:hunter2@[db/navigator")
    assert "not a valid DSN" in str(refused.value) and "hunter2" not in str(refused.value)


def test_an_ssl_key_password_in_the_query_string_is_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="readable by every user"):
        dsn_argument("postgresql://admin@db/navigator?sslkey=k.pem&sslpassword=hunter2")
