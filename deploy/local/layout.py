"""Where the local stack keeps its state, which ports it uses, and its passwords.

Everything a running stack owns lives under one git-ignored directory (``.state/`` at
the repo root, or ``$JETBRIDGE_STATE_DIR``), so ``stack.py reset`` (down + delete that
directory) returns a checkout to a clean slate. Only the Kafka jars live outside it, in
a cache keyed by version, because they are the same for every checkout.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"

KAFKA_PORT = 19092
KAFKA_CONTROLLER_PORT = 19093
KAFKA_TLS_PORT = 19094  # the SSL listener: mutual TLS with the local CA's certificates
POSTGRES15_PORT = 15432
POSTGRES18_PORT = 15433
MARIADB_PORT = 13306


@dataclass(frozen=True)
class Layout:
    """Paths of one stack instance; every component derives its own from these."""

    state_dir: Path
    port_offset: int = 0

    @classmethod
    def from_env(cls) -> Layout:
        """``JETBRIDGE_STATE_DIR`` moves the state; ``JETBRIDGE_STACK_PORT_OFFSET`` shifts
        every port, so a second checkout can run a stack beside the default one."""
        raw = os.environ.get("JETBRIDGE_STATE_DIR")
        offset = int(os.environ.get("JETBRIDGE_STACK_PORT_OFFSET", "0"))
        return cls((Path(raw) if raw else REPO_ROOT / ".state").resolve(), offset)

    def port(self, base: int) -> int:
        return base + self.port_offset

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        """Pid files of the servers that write none themselves."""
        return self.state_dir / "run"

    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "stack.env"

    @property
    def lock_file(self) -> Path:
        return self.state_dir / "stack.lock"

    def ensure_base_dirs(self) -> None:
        # 0755 on the state dir: the postgres, embedded_postgres and mysql system users
        # must traverse it to reach the data directories handed to them.
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o755)
        for sub in (self.logs_dir, self.run_dir):
            sub.mkdir(exist_ok=True)
            sub.chmod(0o755)
        self.secrets_dir.mkdir(exist_ok=True)
        self.secrets_dir.chmod(0o700)

    def password(self, name: str) -> str:
        """A generated password, created once and then stable across restarts.

        URL-safe alphabet only, so it goes into a DSN without escaping.
        """
        path = self.secrets_dir / f"{name}.password"
        if path.exists():
            value = path.read_text().strip()
            if value:
                return value
        self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        value = secrets.token_urlsafe(24)
        write_private(path, value + "\n", 0o600)
        return value


def write_private(path: Path, text: str, mode: int) -> None:
    """Replace ``path`` with ``text``, readable by no one outside ``mode`` at any moment.

    The file is created with ``mode`` (not created, written, then chmodded: between the
    two a default-umask file is readable by every local user) and renamed into place.
    """
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)  # O_CREAT keeps the mode of a file already there
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    tmp.replace(path)


def jar_cache_root() -> Path:
    """Outside the repo: a fresh clone (CI) reuses the jars another checkout fetched."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jetbridge"
