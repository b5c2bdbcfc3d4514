"""Certificates and keys of one local cluster (its own CA, so clusters never trust each other).

Identities follow the Kubernetes conventions the bootstrap RBAC policy expects:
``system:kube-controller-manager`` and ``system:kube-scheduler`` get their built-in
roles; the admin user is in ``system:masters``; kwok and the ESO stand-in are plain
users bound to roles the stack creates, so RBAC is really in the path.
ECDSA P-256 keys: generating them costs microseconds, RSA costs a noticeable pause.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=3650)
SERVICE_IP = "10.96.0.1"  # first address of --service-cluster-ip-range

# user name -> groups; each gets <name>.crt/.key signed by the cluster CA
CLIENTS: dict[str, tuple[str, ...]] = {
    "admin": ("system:masters",),
    "system:kube-controller-manager": (),
    "system:kube-scheduler": (),
    "jetbridge:kwok": (),
    "jetbridge:eso-standin": (),
}


def file_stem(user: str) -> str:
    return user.replace(":", "-")


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
    )


def _new_ca(pki: Path, stem: str, cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Name]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(cn)
    ca = (
        _builder(ca_name, ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(ca_key, pki / f"{stem}.key")
    _write_cert(ca, pki / f"{stem}.crt")
    return ca_key, ca_name


def _leaf(
    pki: Path,
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Name],
    stem: str,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    *,
    sans: list[x509.GeneralName] | None = None,
) -> None:
    ca_key, ca_name = ca
    key = ec.generate_private_key(ec.SECP256R1())
    b = (
        _builder(subject, ca_name, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    _write_key(key, pki / f"{stem}.key")
    _write_cert(b.sign(ca_key, hashes.SHA256()), pki / f"{stem}.crt")


def ensure_pki(pki: Path, cluster: str) -> None:
    """Create the CAs, serving cert, client certs and SA key once; keep them afterwards."""
    pki.mkdir(parents=True, exist_ok=True)
    pki.chmod(0o700)
    if not (pki / "front-proxy-client.crt").exists():
        # requestheader CA: without it kcm/scheduler log a missing-CA error every 10s
        front = _new_ca(pki, "front-proxy-ca", f"jetbridge-{cluster}-front-proxy-ca")
        _leaf(
            pki,
            front,
            "front-proxy-client",
            _name("front-proxy-client"),
            ExtendedKeyUsageOID.CLIENT_AUTH,
        )
    if (pki / ".complete").exists():
        return
    ca = _new_ca(pki, "ca", f"jetbridge-{cluster}-ca")

    def leaf(
        stem: str,
        subject: x509.Name,
        usage: x509.ObjectIdentifier,
        sans: list[x509.GeneralName] | None = None,
    ) -> None:
        _leaf(pki, ca, stem, subject, usage, sans=sans)

    dns = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ]
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", SERVICE_IP)]
    leaf("apiserver", _name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, sans)
    for user, groups in CLIENTS.items():
        leaf(file_stem(user), _name(user, groups), ExtendedKeyUsageOID.CLIENT_AUTH)
    _write_key(ec.generate_private_key(ec.SECP256R1()), pki / "sa.key")
    sa_pub = serialization.load_pem_private_key((pki / "sa.key").read_bytes(), None)
    (pki / "sa.pub").write_bytes(
        sa_pub.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (pki / ".complete").write_text("ok\n")


def kubeconfig(pki: Path, server: str, cluster: str, user: str) -> str:
    """A kubeconfig with file references (no inlined keys), one context named like the cluster."""
    stem = file_stem(user)
    return f"""apiVersion: v1
kind: Config
clusters:
- name: {cluster}
  cluster:
    server: {server}
    certificate-authority: {pki / "ca.crt"}
users:
- name: {user}
  user:
    client-certificate: {pki / f"{stem}.crt"}
    client-key: {pki / f"{stem}.key"}
contexts:
- name: {cluster}
  context:
    cluster: {cluster}
    user: {user}
current-context: {cluster}
"""
