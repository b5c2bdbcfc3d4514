"""What a ClusterSecretStore object says about the store: valid? authenticated?

The eligibility rule wants "a valid, authenticated ClusterSecretStore". External
Secrets reports both through one condition, ``status.conditions[type=Ready]``:

- no object: neither (the store does not exist);
- Ready=False, reason ``InvalidProviderConfig``: the spec is wrong (not valid);
- Ready=False for any other reason (ESO's ``ValidationFailed``: the provider refused
  the credentials or could not be reached): valid, not authenticated;
- Ready=True: both;
- no Ready condition yet: ESO has not looked at it; neither, until it does.

The provider the spec names is reported too: the spec supports only AWS Secrets
Manager and Google Cloud Secret Manager, which the control plane warns about.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jetbridge.agent.domain.facts import SecretStoreStatus
from jetbridge.common.conditions import condition
from jetbridge.common.redaction import redact

INVALID_CONFIG = "InvalidProviderConfig"


def store_status(name: str, obj: Mapping[str, Any] | None) -> SecretStoreStatus:
    """The store's status as the agent reports it, from the object (None: not found)."""
    if obj is None:
        return SecretStoreStatus(name, False, False, f"ClusterSecretStore {name} not found")
    provider = provider_of(obj)
    cond = condition(obj, "Ready")
    if cond is None:
        return SecretStoreStatus(name, False, False, "no Ready condition yet", provider)
    # ESO quotes the provider's error, which may carry a credential: masked.
    message = redact(str(cond.get("message") or cond.get("reason") or ""))
    if cond.get("status") == "True":
        return SecretStoreStatus(name, True, True, message, provider)
    valid = cond.get("reason") != INVALID_CONFIG
    return SecretStoreStatus(name, valid, False, message, provider)


def provider_of(obj: Mapping[str, Any]) -> str:
    """The provider the store's spec names: ``aws/<service>`` for AWS (Secrets Manager
    and Parameter Store are two services of one provider), else the provider's key
    (``gcpsm``, ``vault``...). "" when the spec names none."""
    providers = (obj.get("spec") or {}).get("provider") or {}
    if not isinstance(providers, Mapping) or not providers:
        return ""
    kind = str(sorted(providers)[0])
    if kind == "aws":
        return f"aws/{(providers.get('aws') or {}).get('service') or ''}"
    return kind


def unreadable(name: str, error: str) -> SecretStoreStatus:
    """The API server did not answer for too long: fail closed, say why."""
    return SecretStoreStatus(name, False, False, f"cannot read ClusterSecretStore {name}: {error}")
