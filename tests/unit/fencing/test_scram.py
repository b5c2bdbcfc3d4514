"""The client-side SCRAM-SHA-256 verifier against RFC 7677's exchange.

The RFC's example (user "user", password "pencil") gives the server's signature and
the client's proof of one exchange; both follow from the verifier alone, so the
verifier is right when they come out equal. (The contract tests log in with it on
PostgreSQL 15 and 18: tests/integration/fencing.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from jetbridge.fencing.scram import scram_sha256_verifier

SALT = "W22ZaJ0SNY7soEsUEjb6gQ=="
NONCE = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
# client-first-message-bare, server-first-message, client-final-message-without-proof
AUTH_MESSAGE = ",".join(
    ["n=user,r=rOprNGfwEbeRWgbNEkqO", f"r={NONCE},s={SALT},i=4096", f"c=biws,r={NONCE}"]
).encode()
SERVER_SIGNATURE = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
CLIENT_PROOF = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="


def test_the_verifier_checks_rfc_7677s_exchange() -> None:
    verifier = scram_sha256_verifier("pencil", salt=base64.b64decode(SALT))
    method, rest = verifier.split("$", 1)
    head, keys = rest.split("$")
    iterations, salt = head.split(":")
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    assert (method, iterations, salt) == ("SCRAM-SHA-256", "4096", SALT)
    signature = hmac.new(server_key, AUTH_MESSAGE, hashlib.sha256).digest()
    assert base64.b64encode(signature).decode() == SERVER_SIGNATURE
    # What the server does with the client's proof: recover ClientKey, hash it.
    client_signature = hmac.new(stored_key, AUTH_MESSAGE, hashlib.sha256).digest()
    proof = base64.b64decode(CLIENT_PROOF)
    client_key = bytes(a ^ b for a, b in zip(proof, client_signature, strict=True))
    assert hashlib.sha256(client_key).digest() == stored_key


def test_each_verifier_has_its_own_salt_and_never_holds_the_password() -> None:
    first, second = scram_sha256_verifier("pencil"), scram_sha256_verifier("pencil")
    assert first != second
    assert "pencil" not in first


@pytest.mark.parametrize("password", ["pässword", "tab\there"])
def test_a_password_that_needs_saslprep_is_refused(password: str) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        scram_sha256_verifier(password)
