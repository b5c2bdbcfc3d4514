"""A database DSN given to a command-line tool, without putting a password in ``ps``.

A process's arguments are readable by every user of the machine (``ps``,
``/proc/PID/cmdline``) and often end up in shell history and job logs. So a DSN on the
command line must carry no password: ``env:NAME`` names an environment variable that
holds the whole DSN, or the password comes from ``PGPASSWORD`` / ``~/.pgpass``, which
asyncpg reads.
"""

from __future__ import annotations

import argparse
import os
from urllib.parse import parse_qsl, urlsplit

ENV_PREFIX = "env:"
# Query parameters that hold a secret (asyncpg reads both; libpq too)
SECRET_PARAMS = frozenset({"password", "sslpassword"})


def dsn_argument(text: str) -> str:
    """argparse ``type=``: ``env:NAME`` -> that variable's DSN; a DSN -> itself, unless
    it holds a password (refused, so nothing runs with a leaked credential)."""
    if text.startswith(ENV_PREFIX):
        name = text[len(ENV_PREFIX) :]
        value = os.environ.get(name, "")
        if not name or not value:
            raise argparse.ArgumentTypeError(f"environment variable {name!r} is not set")
        return value
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:  # argparse would quote the value, password and all: not this way
        raise argparse.ArgumentTypeError("not a valid DSN (an unparseable URL)") from None
    in_query = any(k.lower() in SECRET_PARAMS for k, _ in parse_qsl(parts.query))
    if password is not None or in_query:
        raise argparse.ArgumentTypeError(
            "a DSN with a password on the command line is readable by every user of this "
            "machine (ps); put the DSN in an environment variable and pass env:NAME, or "
            "leave the password to PGPASSWORD or ~/.pgpass"
        )
    return text
