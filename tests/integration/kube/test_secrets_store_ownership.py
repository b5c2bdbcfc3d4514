"""The shared secrets store (moto on one loopback port) belongs to the state dir that
started it: another checkout's ``down`` leaves it running (it was stopping the main
stack's store, found by its port)."""

from __future__ import annotations

from pathlib import Path

import kubestack
from kubeprocs import alive
from ports import free_port


def test_down_of_another_state_dir_leaves_the_store_running(tmp_path: Path) -> None:
    port = free_port()
    starter = kubestack.SecretsStore(tmp_path / "a", port)
    other = kubestack.SecretsStore(tmp_path / "b", port)
    print(starter.start())
    (pid,) = starter.pids()
    try:
        assert other.pids() == [pid]  # the other checkout sees and reuses it...
        said = other.release()  # ...but its `down` must not stop it
        assert "another state dir" in said and str(pid) in said
        assert alive(pid) and starter.ready()
        assert starter.release() == f"stopped pid {pid}"
        assert not alive(pid) and other.pids() == []
    finally:
        starter.stop()
