"""Mask credentials in text that leaves a process: log lines, step failures, RPC statuses.

Jetbridge never puts a secret into a message on purpose, but the texts of other
people's exceptions are not ours. A database driver quotes the statement it refused
(MySQL: ``... near 'IDENTIFIED BY 'x'' at line 1``), a client library prints the URL it
failed to reach with its userinfo, a settings error echoes a DSN. Those texts reach
step outcomes (Kafka, the Console, the audit log) and the logs. This is the last line:
a pattern-based mask for the shapes credentials take there. It cannot know an
arbitrary secret's value, so code must still never format one into a message.
"""

from __future__ import annotations

import re

MASK = "***"

# Cheap gate: a text holding none of these words cannot match any pattern below. The
# words a field name ends in (secret, token, key, credential) count only when a field's
# "=" or ":" follows, as every pattern naming them needs: step names such as
# APPLY_EXTERNAL_SECRETS are in many log lines, and the agent's line naming the steps
# formats in 12.7 us with this gate against 101 us with one that opened on "secret"
# (bench/common/bench_log_lines.py, docs/benchmarks.md "Log lines"). Plain substring
# tests on the lower-cased text: a regex alternation tried at every position costs
# several times more.
_ALWAYS = ("://", "passw", "pwd", "identified", "scram-sha", "bearer", "basic")
_FIELD_ENDS = ("secret", "token", "key", "credential")
_FIELD_FOLLOWED = re.compile(rf"(?:{'|'.join(_FIELD_ENDS)})[\w.-]*[\"']?\s*[=:]")
# Field names whose values are credentials: *password, *secret, *token, and the
# *_key names Airflow and the clouds use (SECRET_KEY, AWS_SECRET_ACCESS_KEY, FERNET_KEY).
_FIELD = (
    r"[\w.-]*(?:password|passwd|pwd|secret|token|credentials?"
    r"|(?:secret|access|api|private|fernet|signing)[_-]?(?:access[_-]?)?key)"
)

_QUOTED = r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\""
_BARE = r"[^\s,;&)}\]'\"]+"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host -> scheme://user:***@host
    (
        re.compile(r"(\b[a-z][a-z0-9+.\-]{0,31}://[^:/@\s'\"]*):[^@\s'\"]+@", re.IGNORECASE),
        rf"\1:{MASK}@",
    ),
    # SQL: IDENTIFIED BY 'x', IDENTIFIED WITH plugin BY|AS 'x', PASSWORD 'x', PASSWORD = 'x'
    (
        re.compile(
            rf"(\bIDENTIFIED\s+(?:WITH\s+\S+\s+)?(?:BY|AS)\s+(?:PASSWORD\s+)?)(?:{_QUOTED})",
            re.IGNORECASE,
        ),
        rf"\1'{MASK}'",
    ),
    (re.compile(rf"(\bPASSWORD(?:\s+|\s*=\s*))(?:{_QUOTED})", re.IGNORECASE), rf"\1'{MASK}'"),
    # A SCRAM verifier (offline-crackable): keep the mechanism, mask the rest.
    (re.compile(r"(SCRAM-SHA-256\$)[^\s'\"]+", re.IGNORECASE), rf"\1{MASK}"),
    # key=value of credential fields (a DSN's, a URL query's, an environment's)
    (re.compile(rf"(\b{_FIELD}\s*=\s*)(?:{_QUOTED}|{_BARE})", re.IGNORECASE), rf"\1{MASK}"),
    # "key": "value" (JSON: a quoted key right before its colon, a quoted value). A
    # quoted name followed by prose ('volume "fernet-key" : secret "x" not found',
    # 'Invalid value: "fernet-key": a valid key') is not a credential.
    (re.compile(rf"(([\"']){_FIELD}\2:\s*)(?:{_QUOTED})", re.IGNORECASE), rf"\1{MASK}"),
    # A bare password: value (YAML). Not a bare "secret:": prose such as "could not
    # sync secret: store down" has it; nor MySQL's "(using password: YES)", which only
    # says whether one was sent.
    (
        re.compile(
            rf"(\b(?:password|passwd)\s*:\s*)(?!(?:YES|NO)\))(?:{_QUOTED}|{_BARE})",
            re.IGNORECASE,
        ),
        rf"\1{MASK}",
    ),
    # HTTP credentials: an Authorization header's value, and a bearer token anywhere.
    (
        re.compile(r"(\bAuthorization\s*[:=]\s*(?:Bearer|Basic)\s+)\S+", re.IGNORECASE),
        rf"\1{MASK}",
    ),
    (re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]{16,}", re.IGNORECASE), rf"\1{MASK}"),
)


def redact(text: str) -> str:
    """``text`` with every credential-shaped part replaced by ``***``."""
    return redact_ungated(text) if _may_hold_credentials(text) else text


def _may_hold_credentials(text: str) -> bool:
    lower = text.casefold()  # as IGNORECASE: U+017F is an "s"
    if any(word in lower for word in _ALWAYS):
        return True
    return any(word in lower for word in _FIELD_ENDS) and bool(_FIELD_FOLLOWED.search(lower))


def redact_ungated(text: str) -> str:
    """Every pattern, without the gate (what the gate must never change)."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
