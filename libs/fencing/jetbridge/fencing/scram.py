"""A PostgreSQL login role's password as a SCRAM-SHA-256 verifier, made client-side.

``CREATE ROLE ... PASSWORD 'secret'`` puts the password itself in the statement's
text, which the server may keep: its log shows a failed statement whole
(``log_min_error_statement``), as do ``log_statement = ddl``, ``pg_stat_statements``
and ``pg_stat_activity``. Given a verifier instead, PostgreSQL stores it as it is
(any ``password_encryption``) and checks logins against it; the password never
reaches the server. Same computation as the server's (RFC 5802, RFC 7677; PostgreSQL's
``scram_build_secret``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

ITERATIONS = 4096  # PostgreSQL's scram_iterations default
SALT_BYTES = 16


def scram_sha256_verifier(
    password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS
) -> str:
    """``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` of ``password``.

    Only printable ASCII: PostgreSQL and its clients SASLprep-normalize other text
    before hashing, which this does not do; a password that needs it is refused here
    rather than stored under a verifier no login would match.
    """
    if not (password.isascii() and password.isprintable()):
        raise ValueError("a client-side SCRAM verifier needs a printable ASCII password")
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
