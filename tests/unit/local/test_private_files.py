"""The local stack's secrets and env file are never readable beyond their mode."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local"))

from layout import write_private


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_file_is_born_with_its_mode_even_over_a_loose_leftover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "stack.env"
    leftover = target.with_suffix(".tmp")
    leftover.write_text("old")
    leftover.chmod(0o666)  # a crash's leftover: O_CREAT alone would keep this mode
    seen: list[int] = []
    real_open = os.open

    def spying_open(path: os.PathLike[str] | str, flags: int, mode: int = 0o777) -> int:
        fd = real_open(path, flags, mode)
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))  # the mode at creation
        return fd

    monkeypatch.setattr(os, "open", spying_open)
    write_private(target, "JETBRIDGE_LEDGER_KEY=k\n", 0o600)
    assert seen == [0o600]
    assert mode_of(target) == 0o600
    assert target.read_text() == "JETBRIDGE_LEDGER_KEY=k\n"
    assert not leftover.exists()


def test_a_second_write_replaces_the_first(tmp_path: Path) -> None:
    target = tmp_path / "x.password"
    write_private(target, "one\n", 0o600)
    write_private(target, "two\n", 0o640)
    assert target.read_text() == "two\n"
    assert mode_of(target) & 0o077 in (0o040, 0o000)  # the umask may only narrow it
