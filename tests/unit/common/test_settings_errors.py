"""A service that refuses its settings names the bad one and never echoes its value.

The settings hold DSNs with passwords, the ledger key and tokens; a refused start
prints the validation error to the pod's log.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from jetbridge.agent.entrypoints.settings import AgentSettings
from jetbridge.common.kafka.security import KafkaSecurity
from jetbridge.common.settings import StackSettings
from jetbridge.console.entrypoints.app import ConsoleSettings
from jetbridge.dispatcher.entrypoints.settings import DispatcherSettings
from jetbridge.dplink.entrypoints.settings import DPLinkSettings
from jetbridge.navigator.entrypoints.app import NavigatorSettings
from jetbridge.navigator.projections.__main__ import ProjectionSettings
from jetbridge.pilot.entrypoints.settings import PilotSettings

SECRET = "s3cret-Value-7"

EVERY = [
    AgentSettings,
    ConsoleSettings,
    DispatcherSettings,
    DPLinkSettings,
    KafkaSecurity,
    NavigatorSettings,
    PilotSettings,
    ProjectionSettings,
    StackSettings,
]


@pytest.mark.parametrize("settings", EVERY, ids=lambda c: c.__name__)
def test_every_settings_class_hides_the_input_of_its_errors(settings: type[BaseSettings]) -> None:
    assert settings.model_config.get("hide_input_in_errors") is True


def test_a_ledger_key_too_short_is_named_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETBRIDGE_NAVIGATOR_DSN", f"postgresql://navigator:{SECRET}@db/nav")
    monkeypatch.setenv("JETBRIDGE_LEDGER_KEY", SECRET)  # 14 characters, 16 needed
    with pytest.raises(ValidationError) as refused:
        NavigatorSettings()
    assert "ledger_key" in str(refused.value)
    assert SECRET not in str(refused.value)


def test_a_bad_pilot_setting_does_not_show_the_dsns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETBRIDGE_PILOT_CLUSTER_NAME", "dp-east")
    monkeypatch.setenv("JETBRIDGE_PILOT_CLUSTER_ADAPTER", "memory")
    monkeypatch.setenv("JETBRIDGE_PILOT_DATABASE_SIDE", "A")
    monkeypatch.setenv("JETBRIDGE_PILOT_FLIGHTDECK_DSN", f"postgresql://fd:{SECRET}@db/fd")
    monkeypatch.setenv("JETBRIDGE_PILOT_DATABASE_ADMIN_DSN", f"mysql://root:{SECRET}@db/")
    monkeypatch.setenv("JETBRIDGE_PILOT_DATABASE_ENDPOINT", "other:3306")  # not the DSN's
    with pytest.raises(ValidationError) as refused:
        PilotSettings()
    assert "JETBRIDGE_PILOT_DATABASE_ENDPOINT is 'other:3306'" in str(refused.value)
    assert SECRET not in str(refused.value)


def test_a_console_asked_to_keep_no_audit_entry_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JETBRIDGE_CONSOLE_EVENTS_KEPT", "0")
    with pytest.raises(ValidationError) as refused:
        ConsoleSettings()
    assert "console_events_kept" in str(refused.value)
    assert "greater than or equal to 1" in str(refused.value)


def test_registry_credentials_not_named_as_namespace_and_name_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _a_pilot(monkeypatch)
    monkeypatch.setenv("JETBRIDGE_PILOT_IMAGE_PULL_SECRET", "registry-pull")
    with pytest.raises(ValidationError) as refused:
        PilotSettings()
    assert "JETBRIDGE_PILOT_IMAGE_PULL_SECRET names a Secret as namespace/name" in str(
        refused.value
    )
    monkeypatch.setenv("JETBRIDGE_PILOT_IMAGE_PULL_SECRET", "jetbridge/registry-pull")
    assert PilotSettings().image_pull_secret == "jetbridge/registry-pull"


def test_a_flight_retention_below_an_hour_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A finished flight's row is what makes a late StartFlight a no-op: kept a moment,
    a redelivery would run the flight again."""
    _a_pilot(monkeypatch)
    monkeypatch.setenv("JETBRIDGE_PILOT_FLIGHTS_KEEP_S", "0")
    with pytest.raises(ValidationError) as refused:
        PilotSettings()
    assert "flights_keep_s" in str(refused.value)
    assert "greater than or equal to 3600" in str(refused.value)


def _a_pilot(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings a Pilot cannot start without (an in-memory cluster)."""
    monkeypatch.setenv("JETBRIDGE_PILOT_CLUSTER_NAME", "dp-east")
    monkeypatch.setenv("JETBRIDGE_PILOT_CLUSTER_ADAPTER", "memory")
    monkeypatch.setenv("JETBRIDGE_PILOT_DATABASE_SIDE", "A")
    monkeypatch.setenv("JETBRIDGE_PILOT_FLIGHTDECK_DSN", "postgresql://fd@db/fd")
    monkeypatch.setenv("JETBRIDGE_PILOT_DATABASE_ADMIN_DSN", "postgresql://admin@db/")
