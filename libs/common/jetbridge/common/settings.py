"""Typed settings shared by every service and by the tests.

One source of truth for endpoints: the local stack writes ``.state/stack.env``
(``deploy/local/stack.py up``); services and tests read it through these classes.
Environment variables override the file, so production sets plain env vars and
never has the file at all.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[4]
DEFAULT_STATE_DIR = REPO_ROOT / ".state"


# The installation's one container registry (JETBRIDGE_REGISTRY), a control-plane
# setting read by the Navigator and the Console: ``host[:port]``, which every data plane
# pulls Airflow images from (jetbridge.common.images).
RegistryHost = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$",
        description="JETBRIDGE_REGISTRY: the installation's one container registry, "
        "host[:port]; every data plane pulls Airflow images from it",
    ),
]
DEFAULT_REGISTRY = "registry.jetbridge.local"


def service_config(env_prefix: str, *, frozen: bool = False) -> SettingsConfigDict:
    """A service's settings: from ``env_prefix`` variables, unknown ones ignored.

    ``hide_input_in_errors``: a value that fails validation is named, never echoed: the
    settings hold DSNs with passwords, the ledger key and tokens, and a refused start
    prints its error to the pod's log.
    """
    return SettingsConfigDict(
        env_prefix=env_prefix, extra="ignore", frozen=frozen, hide_input_in_errors=True
    )


def env_file_path() -> Path:
    """Where the generated env file lives (``JETBRIDGE_STATE_DIR`` moves it)."""
    state_dir = Path(os.environ.get("JETBRIDGE_STATE_DIR", DEFAULT_STATE_DIR))
    return state_dir / "stack.env"


class StackSettings(BaseSettings):
    """Endpoints of the infrastructure a service talks to."""

    model_config = SettingsConfigDict(**service_config("JETBRIDGE_", frozen=True), env_file=None)

    state_dir: Path = Field(default=DEFAULT_STATE_DIR)
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092", description="host:port[,host:port] of the Kafka brokers"
    )
    kafka_tls_bootstrap_servers: str = Field(
        default="127.0.0.1:19094",
        description="the same brokers' mutual-TLS listener (the local stack's SSL listener)",
    )
    # Admin (superuser) DSNs of the local servers. Services get their own narrower DSNs.
    postgres_dsn: str = Field(default="", description="PostgreSQL 15 (Debian) superuser DSN")
    postgres18_dsn: str = Field(default="", description="PostgreSQL 18 (embedded) superuser DSN")
    mysql_dsn: str = Field(default="", description="MariaDB root DSN, mysql://user:pw@host:port/")
    service_name: str = Field(default="jetbridge", description="producer name in envelopes")
    ledger_key: str = Field(
        default="", description="HMAC key of the ledger's hash chain (audit); >= 16 bytes"
    )


@lru_cache(maxsize=1)
def load_stack_settings() -> StackSettings:
    """Settings from the environment, falling back to the local stack's env file."""
    env_file = env_file_path()
    return StackSettings(_env_file=env_file if env_file.exists() else None)  # type: ignore[call-arg]
