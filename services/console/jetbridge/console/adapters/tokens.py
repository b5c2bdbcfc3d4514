"""Static bearer tokens: a file or an environment variable, one token per line.

Format (``JETBRIDGE_CONSOLE_TOKENS`` or the file named by
``JETBRIDGE_CONSOLE_TOKENS_FILE``): ``<role> <subject> <token-or-sha256:hex>``, one per
line or separated by ``;``; ``#`` at the start of a line or after a space starts a
comment (inside a token it is part of it: cutting the token there once accepted its
prefix as the whole token). A token can be stored as its SHA-256 (``sha256:...``) so
the file holds no secret. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

from jetbridge.console.domain.roles import Principal, parse_role

_COMMENT = re.compile(r"(^|\s)#.*$")


@dataclass(frozen=True)
class _Entry:
    digest: bytes
    principal: Principal


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def parse_tokens(text: str) -> list[_Entry]:
    entries: list[_Entry] = []
    for number, raw in enumerate(text.replace(";", "\n").splitlines(), start=1):
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 3:
            raise ValueError(f"token line {number}: want '<role> <subject> <token>'")
        role, subject, secret = parts
        if secret.startswith("sha256:"):
            digest = bytes.fromhex(secret.removeprefix("sha256:"))
            if len(digest) != 32:
                raise ValueError(f"token line {number}: sha256 digest must be 64 hex digits")
        else:
            if len(secret) < 16:
                raise ValueError(f"token line {number}: tokens must be at least 16 characters")
            digest = _digest(secret)
        entries.append(_Entry(digest, Principal(subject, parse_role(role))))
    return entries


class StaticTokens:
    """The TokenVerifier for bearer tokens known in advance."""

    def __init__(self, entries: list[_Entry]) -> None:
        self._entries = entries

    @classmethod
    def from_text(cls, text: str) -> StaticTokens:
        return cls(parse_tokens(text))

    @classmethod
    def from_file(cls, path: Path) -> StaticTokens:
        return cls.from_text(path.read_text())

    def __len__(self) -> int:
        return len(self._entries)

    async def verify(self, token: str) -> Principal | None:
        digest = _digest(token)
        found = None
        for entry in self._entries:  # every entry is compared: no early exit to time
            if hmac.compare_digest(entry.digest, digest):
                found = entry.principal
        return found
