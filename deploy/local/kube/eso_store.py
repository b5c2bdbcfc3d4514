"""AWS Secrets Manager access for the ESO stand-in (moto on loopback, any endpoint really).

Mirrors the real ESO AWS provider where it matters to Jetbridge: secrets it creates are
tagged ``managed-by=external-secrets`` and it refuses to overwrite a secret that is not,
values written are plain strings (or a JSON object when a ``property`` is used), and a
store counts as valid only when the service answers an authenticated call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

MANAGED_TAG = {"Key": "managed-by", "Value": "external-secrets"}
# Fail fast: "store does not answer" must flip readiness within a couple of seconds.
# ``total_max_attempts`` counts the first try; ``max_attempts`` would add a retry.
_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1, "mode": "standard"}
)
StoreError = (BotoCoreError, ClientError)


class ProviderError(Exception):
    """A push or fetch failed for a reason the resource's status should show."""


@dataclass(frozen=True)
class Credentials:
    region: str
    access_key_id: str
    secret_access_key: str


class SecretsManager:
    """One client per (endpoint, credentials); cheap calls with short timeouts."""

    def __init__(self, endpoint: str, creds: Credentials) -> None:
        self._c = boto3.session.Session().client(
            "secretsmanager",
            endpoint_url=endpoint,
            region_name=creds.region,
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            config=_CONFIG,
        )
        self.unreachable: str | None = None

    def _call(self, operation: str, **params: Any) -> Any:
        """One API call; after a call got no answer, the rest fail at once until the next
        ``validate``. A hung store costs one timeout per store check, not one per
        ExternalSecret and PushSecret due (each 3 s: that kept the store's status stale
        for minutes)."""
        if self.unreachable is not None:
            raise ProviderError(self.unreachable)
        try:
            return getattr(self._c, operation)(**params)
        except BotoCoreError as err:  # no answer (refused, timed out); ClientError is one
            self.unreachable = f"store unreachable: {type(err).__name__}: {err}"
            raise

    def validate(self) -> None:
        """What ESO's ValidateStore does in spirit: one authenticated, read-only call.
        It is also each store check's one fresh try of a store that stopped answering."""
        self.unreachable = None
        self._call("list_secrets", MaxResults=1)

    def get(self, key: str) -> str | None:
        try:
            resp = self._call("get_secret_value", SecretId=key)
        except ClientError as err:
            if err.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise
        if "SecretString" in resp:
            return str(resp["SecretString"])
        return bytes(resp["SecretBinary"]).decode()

    def fetch(self, key: str, prop: str | None) -> str:
        value = self.get(key)
        if value is None:
            raise ProviderError(f"remote secret {key!r} not found")
        if not prop:
            return value
        try:
            doc = json.loads(value)
        except json.JSONDecodeError as err:
            raise ProviderError(
                f"remote secret {key!r} is not JSON, cannot read property {prop!r}"
            ) from err
        if not isinstance(doc, dict) or prop not in doc:
            raise ProviderError(f"remote secret {key!r} has no property {prop!r}")
        item = doc[prop]
        return item if isinstance(item, str) else json.dumps(item)

    def extract(self, key: str) -> dict[str, str]:
        """``dataFrom.extract``: every top-level JSON key becomes a Secret key."""
        value = self.fetch(key, None)
        try:
            doc = json.loads(value)
        except json.JSONDecodeError as err:
            raise ProviderError(f"remote secret {key!r} is not a JSON object") from err
        if not isinstance(doc, dict):
            raise ProviderError(f"remote secret {key!r} is not a JSON object")
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in doc.items()}

    def push(self, key: str, value: str, prop: str | None, if_not_exists: bool) -> bool:
        """Write ``value`` (into ``prop`` of a JSON object if given); True if it changed."""
        current = self.get(key)
        if current is not None and if_not_exists:
            return False
        new = value
        if prop:
            doc: dict[str, Any] = {}
            if current:
                try:
                    loaded = json.loads(current)
                except json.JSONDecodeError:
                    loaded = None
                if not isinstance(loaded, dict):
                    raise ProviderError(f"remote secret {key!r} is not a JSON object")
                doc = loaded
            doc[prop] = value
            new = json.dumps(doc, sort_keys=True)
        if current is None:
            self._call("create_secret", Name=key, SecretString=new, Tags=[MANAGED_TAG])
            return True
        if current == new:
            return False
        tags = self._call("describe_secret", SecretId=key).get("Tags", [])
        if MANAGED_TAG not in tags:
            raise ProviderError(f"secret {key!r} exists and is not managed by external-secrets")
        self._call("put_secret_value", SecretId=key, SecretString=new)
        return True

    def delete(self, key: str) -> None:
        try:
            self._call("delete_secret", SecretId=key, ForceDeleteWithoutRecovery=True)
        except ClientError as err:
            if err.response["Error"]["Code"] != "ResourceNotFoundException":
                raise


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")


def parse_duration(text: str | None, default: float) -> float:
    """Go duration strings as ESO's refreshInterval uses them ("1h", "90s", "1h30m", "0")."""
    if text is None or text == "":
        return default
    if text.strip() in ("0", "0s"):
        return 0.0
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"invalid duration {text!r}")
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * scale[u] for n, u in parts)
