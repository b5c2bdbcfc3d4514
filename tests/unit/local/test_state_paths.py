"""A worktree whose .state links to another tree's names the same paths the stack's
daemons were started with (before, pause() found none of them from such a worktree)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local" / "kube"))

import kubestack
import layout


def test_a_linked_state_directory_resolves_to_its_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "main" / ".state"
    real.mkdir(parents=True)
    worktree = tmp_path / "worktree"
    worktree.mkdir()
    (worktree / ".state").symlink_to(real)
    monkeypatch.delenv("JETBRIDGE_STATE_DIR", raising=False)
    monkeypatch.setattr(layout, "REPO_ROOT", worktree)
    monkeypatch.setattr(kubestack, "REPO_ROOT", worktree)
    assert layout.Layout.from_env().state_dir == real
    assert kubestack.state_root() == real / "kube"  # what the daemons' command lines name
