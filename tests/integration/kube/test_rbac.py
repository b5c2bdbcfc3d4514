"""RBAC is enforced: a service account token authenticates, and is authorised only as bound."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kubernetes import client

from .conftest import wait_until


def as_service_account(admin: client.ApiClient, ns: str, sa: str) -> client.ApiClient:
    """An API client authenticated by a real TokenRequest token (signed by the cluster)."""
    core = client.CoreV1Api(admin)
    core.create_namespaced_service_account(ns, {"metadata": {"name": sa}})
    token = core.create_namespaced_service_account_token(
        sa, ns, {"spec": {"expirationSeconds": 600}}
    ).status.token
    cfg = client.Configuration()
    cfg.host = admin.configuration.host
    cfg.ssl_ca_cert = admin.configuration.ssl_ca_cert
    cfg.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(cfg)


def test_service_account_is_denied_until_a_role_allows_it(
    west: client.ApiClient, namespace_on: Callable[[client.ApiClient, str], str]
) -> None:
    ns = namespace_on(west, "rbac")
    with as_service_account(west, ns, "intruder") as api:
        core = client.CoreV1Api(api)
        me = client.AuthenticationV1Api(api).create_self_subject_review({}).status.user_info
        assert me.username == f"system:serviceaccount:{ns}:intruder"

        with pytest.raises(client.ApiException) as denied:
            core.list_namespaced_secret(ns)
        assert denied.value.status == 403
        with pytest.raises(client.ApiException) as denied:
            core.list_namespaced_config_map(ns)
        assert denied.value.status == 403

        rbac = client.RbacAuthorizationV1Api(west)
        rbac.create_namespaced_role(
            ns,
            {
                "metadata": {"name": "read-configmaps"},
                "rules": [
                    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}
                ],
            },
        )
        rbac.create_namespaced_role_binding(
            ns,
            {
                "metadata": {"name": "read-configmaps"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "read-configmaps",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "intruder", "namespace": ns}],
            },
        )

        def allowed() -> bool:
            try:
                core.list_namespaced_config_map(ns)
            except client.ApiException as err:
                if err.status == 403:
                    return False
                raise
            return True

        wait_until(allowed, 10, "the RoleBinding to take effect")
        with pytest.raises(client.ApiException) as still:
            core.list_namespaced_secret(ns)
        assert still.value.status == 403
        with pytest.raises(client.ApiException) as other_ns:
            core.list_namespaced_config_map("kube-system")
        assert other_ns.value.status == 403


def test_anonymous_requests_are_rejected(west: client.ApiClient) -> None:
    cfg = client.Configuration()
    cfg.host = west.configuration.host
    cfg.ssl_ca_cert = west.configuration.ssl_ca_cert
    with client.ApiClient(cfg) as anon, pytest.raises(client.ApiException) as err:
        client.CoreV1Api(anon).list_namespace()
    assert err.value.status == 401
