"""A local CA and the certificates of the planes (mTLS between control and data planes).

Identities are SPIFFE-style URIs in the certificate's SAN, and the CN repeats them in
short form:

- a data plane: ``spiffe://jetbridge/cluster/<cluster-id>`` (CN ``<cluster-id>``);
- the control plane: ``spiffe://jetbridge/control-plane`` (CN ``control-plane``);
- the local Kafka broker's SSL listener: ``spiffe://jetbridge/kafka`` (CN ``kafka``),
  which also names ``localhost`` and ``127.0.0.1``, the address clients dial.

Each certificate also carries one DNS name derived from its identity
(:func:`dns_name`). gRPC clients verify the server's DNS name against the name they
expect, so a control-plane client that connects to cluster A's endpoint with the
target name override ``dns_name(A)`` refuses a server presenting cluster B's
certificate during the handshake, even though the same CA signed both.

The local stack calls :func:`ensure_certificates` to write everything under
``<state_dir>/tls/`` (idempotent: existing, valid files are kept). Production issues
the same identities from its own CA; nothing here is needed there.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TRUST_DOMAIN = "jetbridge"
CLUSTER_URI_PREFIX = f"spiffe://{TRUST_DOMAIN}/cluster/"
CONTROL_PLANE_URI = f"spiffe://{TRUST_DOMAIN}/control-plane"
KAFKA_BROKER_URI = f"spiffe://{TRUST_DOMAIN}/kafka"
CONTROL_PLANE_CN = "control-plane"
KAFKA_BROKER_CN = "kafka"
# Kafka's principal is the certificate's CN (jetbridge.common.kafka.acls): a cluster
# named like another party would share its permissions.
RESERVED_CLUSTER_IDS = frozenset({CONTROL_PLANE_CN, KAFKA_BROKER_CN})
_DNS_SUFFIX = "jetbridge.internal"
_CLUSTER_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_VALIDITY = dt.timedelta(days=365)
_RENEW_BEFORE = dt.timedelta(days=30)


def cluster_identity(cluster_id: str) -> str:
    if not _CLUSTER_ID.match(cluster_id):
        raise ValueError(f"cluster id {cluster_id!r} must be a DNS label (a-z, 0-9, -)")
    if cluster_id in RESERVED_CLUSTER_IDS:
        raise ValueError(f"cluster id {cluster_id!r} is reserved (the CN of another party)")
    return CLUSTER_URI_PREFIX + cluster_id


def cluster_id_of(identity: str) -> str | None:
    """The cluster an identity URI names, None for any other identity."""
    if identity.startswith(CLUSTER_URI_PREFIX):
        return identity.removeprefix(CLUSTER_URI_PREFIX)
    return None


def dns_name(identity: str) -> str:
    """The DNS SAN that stands for an identity URI (what gRPC checks on the server)."""
    cluster = cluster_id_of(identity)
    if cluster is not None:
        return f"{cluster}.cluster.{_DNS_SUFFIX}"
    if identity == CONTROL_PLANE_URI:
        return f"control-plane.{_DNS_SUFFIX}"
    if identity == KAFKA_BROKER_URI:
        return f"kafka.{_DNS_SUFFIX}"
    raise ValueError(f"not a Jetbridge identity: {identity!r}")


@dataclass(frozen=True)
class TlsFiles:
    """Paths of one party's key pair plus the CA it trusts."""

    ca_cert: Path
    cert: Path
    key: Path

    def read(self) -> tuple[bytes, bytes, bytes]:
        """(CA certificate, certificate chain, private key) as PEM bytes."""
        return self.ca_cert.read_bytes(), self.cert.read_bytes(), self.key.read_bytes()


@dataclass(frozen=True)
class TlsLayout:
    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    def control_plane(self) -> TlsFiles:
        return TlsFiles(
            self.ca_cert, self.root / "control-plane.pem", self.root / "control-plane.key"
        )

    def kafka_broker(self) -> TlsFiles:
        return TlsFiles(
            self.ca_cert, self.root / "kafka-broker.pem", self.root / "kafka-broker.key"
        )

    def cluster(self, cluster_id: str) -> TlsFiles:
        cluster_identity(cluster_id)  # validates the id before it becomes a path
        base = self.root / "clusters" / cluster_id
        return TlsFiles(self.ca_cert, base.with_suffix(".pem"), base.with_suffix(".key"))


def ensure_certificates(state_dir: Path, cluster_ids: list[str] | tuple[str, ...]) -> TlsLayout:
    """Write (or keep) the CA, the control plane's and each cluster's certificate."""
    layout = TlsLayout(Path(state_dir) / "tls")
    (layout.root / "clusters").mkdir(parents=True, exist_ok=True)
    with (layout.root / ".lock").open("w") as lock:  # the stack and tests may race
        fcntl.flock(lock, fcntl.LOCK_EX)
        ca_key, ca_cert = _ensure_ca(layout)
        _ensure_leaf(layout.control_plane(), ca_key, ca_cert, CONTROL_PLANE_URI, CONTROL_PLANE_CN)
        _ensure_leaf(
            layout.kafka_broker(), ca_key, ca_cert, KAFKA_BROKER_URI, KAFKA_BROKER_CN, local=True
        )
        for cluster_id in cluster_ids:
            identity = cluster_identity(cluster_id)
            _ensure_leaf(layout.cluster(cluster_id), ca_key, ca_cert, identity, cluster_id)
    return layout


def certificate_identities(cert_pem: bytes) -> list[str]:
    """The URI SANs of a PEM certificate."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(san.get_values_for_type(x509.UniformResourceIdentifier))


# -- issuing ---------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ensure_ca(layout: TlsLayout) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    if layout.ca_cert.exists() and layout.ca_key.exists():
        cert = x509.load_pem_x509_certificate(layout.ca_cert.read_bytes())
        key = serialization.load_pem_private_key(layout.ca_key.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey) and _still_valid(cert):
            return key, cert
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Jetbridge local CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + 5 * _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    _write_key(layout.ca_key, key)
    layout.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _ensure_leaf(
    files: TlsFiles,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    identity: str,
    common_name: str,
    *,
    local: bool = False,  # also names localhost and 127.0.0.1 (a loopback server)
) -> None:
    if files.cert.exists() and files.key.exists():
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        if (
            _still_valid(cert)
            and cert.issuer == ca_cert.subject
            and certificate_identities(files.cert.read_bytes()) == [identity]
            and _signed_by(cert, ca_cert)
        ):
            return
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.UniformResourceIdentifier(identity),
                    x509.DNSName(dns_name(identity)),
                    *(
                        [x509.DNSName("localhost"), x509.IPAddress(ip_address("127.0.0.1"))]
                        if local
                        else []
                    ),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files.cert.parent.mkdir(parents=True, exist_ok=True)
    _write_key(files.key, key)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _still_valid(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - _RENEW_BEFORE > _now()


def _signed_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except Exception:  # InvalidSignature, ValueError, TypeError: all mean "not ours"
        return False
    return True


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(tmp, path)
