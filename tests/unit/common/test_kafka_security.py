"""The Kafka client settings: PLAINTEXT adds nothing, SSL needs its three files."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from jetbridge.common.kafka.security import KafkaSecurity
from jetbridge.common.tls import ensure_certificates


def test_plaintext_is_the_default_and_adds_no_client_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("JETBRIDGE_KAFKA_SECURITY_PROTOCOL", raising=False)
    assert KafkaSecurity().client_kwargs() == {}


def test_ssl_without_its_files_is_refused_naming_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETBRIDGE_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("JETBRIDGE_KAFKA_SSL_CAFILE", "/etc/ca.pem")
    with pytest.raises(ValidationError) as refused:
        KafkaSecurity()
    message = str(refused.value)
    assert "JETBRIDGE_KAFKA_SSL_CERTFILE" in message and "JETBRIDGE_KAFKA_SSL_KEYFILE" in message
    assert "JETBRIDGE_KAFKA_SSL_CAFILE" not in message


def test_ssl_gives_a_context_that_presents_the_certificate(tmp_path: Path) -> None:
    files = ensure_certificates(tmp_path, ["dp-east"]).cluster("dp-east")
    kwargs = KafkaSecurity(
        security_protocol="SSL",
        ssl_cafile=files.ca_cert,
        ssl_certfile=files.cert,
        ssl_keyfile=files.key,
    ).client_kwargs()
    assert kwargs["security_protocol"] == "SSL"
    context = kwargs["ssl_context"]
    assert context.verify_mode.name == "CERT_REQUIRED" and context.check_hostname
    assert context.get_ca_certs()  # the CA file was loaded


def test_an_unknown_protocol_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETBRIDGE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ValidationError, match="security_protocol"):
        KafkaSecurity()
