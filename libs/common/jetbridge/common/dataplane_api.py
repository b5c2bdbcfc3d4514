"""The generated data-plane gRPC modules, generated on first import when missing or stale.

``schemas/proto/generate.py`` writes them into ``jetbridge/common/_generated`` (git-ignored).
Importing this module runs it when needed, so tests on a clean checkout and fresh
service containers work without a manual ``make proto``; the generator's stamp makes
the check a single file read once the code exists.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

from jetbridge.common.events.registry import default_schemas_dir


@cache
def _generator() -> ModuleType:
    path = default_schemas_dir() / "proto" / "generate.py"
    spec = importlib.util.spec_from_file_location("jetbridge_proto_generate", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the proto generator at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclass-free, but keep importlib happy
    spec.loader.exec_module(module)
    return module


def generated_dir() -> Path:
    return Path(__file__).resolve().parent / "_generated"


def ensure_generated() -> bool:
    """Generate the stubs unless they are fresh; True when files were (re)written."""
    return bool(_generator().generate(generated_dir()))


ensure_generated()

from jetbridge.common._generated.dataplane.v1 import (  # noqa: E402
    dataplane_pb2 as pb2,
)
from jetbridge.common._generated.dataplane.v1 import (  # noqa: E402
    dataplane_pb2_grpc as pb2_grpc,
)


def method_path(name: str) -> str:
    """A DataPlane method's gRPC path (``/jetbridge.dataplane.v1.DataPlane/<name>``), as
    interceptors and spans name it."""
    return f"/{pb2.DESCRIPTOR.services_by_name['DataPlane'].full_name}/{name}"


__all__ = ["ensure_generated", "generated_dir", "method_path", "pb2", "pb2_grpc"]
