"""How every Kafka client of every service connects: PLAINTEXT or mutual TLS.

The data planes reach Kafka across the plane boundary (the Pilot's relay publishes the
flights' outcomes, the agent reads the work topic), and the control plane's commands
travel on it, so production runs SSL with client certificates: the broker proves
itself with a certificate the CA file trusts, and each client presents its plane's
own (the control plane's, or the cluster's), which a broker configured with
``ssl.client.auth=required`` demands; a client without one cannot even connect.
PLAINTEXT stays the default for the local stack's plain listener.

One set of variables for every service (``JETBRIDGE_KAFKA_SECURITY_PROTOCOL``,
``..._SSL_CAFILE``, ``..._SSL_CERTFILE``, ``..._SSL_KEYFILE``), read once per process.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from pydantic import model_validator
from pydantic_settings import BaseSettings

from jetbridge.common.settings import service_config


class KafkaSecurity(BaseSettings):
    model_config = service_config("JETBRIDGE_KAFKA_", frozen=True)

    security_protocol: Literal["PLAINTEXT", "SSL"] = "PLAINTEXT"
    ssl_cafile: Path | None = None  # the CA that signed the brokers' certificates
    ssl_certfile: Path | None = None  # this client's certificate (PEM, chain allowed)
    ssl_keyfile: Path | None = None  # its private key (PEM)

    @model_validator(mode="after")
    def _files_for_ssl(self) -> KafkaSecurity:
        if self.security_protocol == "SSL":
            missing = [
                f"JETBRIDGE_KAFKA_{name.upper()}"
                for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"security_protocol SSL needs {', '.join(missing)}")
        return self

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client ({} for PLAINTEXT)."""
        if self.security_protocol == "PLAINTEXT":
            return {}
        context = create_ssl_context(
            cafile=str(self.ssl_cafile),
            certfile=str(self.ssl_certfile),
            keyfile=str(self.ssl_keyfile),
        )
        return {"security_protocol": "SSL", "ssl_context": context}


@lru_cache(maxsize=1)
def kafka_security() -> dict[str, Any]:
    """This process's client arguments, from the environment (one SSL context shared)."""
    return KafkaSecurity().client_kwargs()
