"""The Helm charts under deploy/helm: lint, render, and a server-side dry-run.

``helm`` is built from the Go module proxy with the local clusters' binaries
(deploy/local/kube/kubebuild.py, component ``helm``; ``make stack-up`` builds it). Like
every test of this suite, these FAIL when it is missing instead of skipping. Rendered
objects are checked for what the charts promise (one Deployment per service with the
configured replicas, probes, Secrets referenced and never inlined, the Pilot's RBAC,
NetworkPolicies, the exact JETBRIDGE_* names the settings classes read) and then sent to
a local kube-apiserver with ``dryRun=All``: the API server validates every object as
it would on install, and nothing is persisted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config, dynamic
from pydantic_settings import BaseSettings

from jetbridge.agent.entrypoints.settings import AgentSettings
from jetbridge.common.kafka.security import KafkaSecurity
from jetbridge.common.metrics import METRICS_HOST_ENV, METRICS_PORT_ENV
from jetbridge.common.settings import StackSettings
from jetbridge.console.entrypoints.app import ConsoleSettings
from jetbridge.dispatcher.entrypoints.settings import DispatcherSettings
from jetbridge.dplink.entrypoints.settings import DPLinkSettings
from jetbridge.navigator.entrypoints.app import NavigatorSettings
from jetbridge.navigator.projections.__main__ import ProjectionSettings
from jetbridge.pilot.entrypoints.settings import PilotSettings

ROOT = Path(__file__).resolve().parents[3]
KUBE_DIR = ROOT / "deploy" / "local" / "kube"
sys.path.insert(0, str(KUBE_DIR))

import kubebuild  # noqa: E402
import kubestack  # noqa: E402

HERE = Path(__file__).resolve().parent
CONTROL = ROOT / "deploy" / "helm" / "jetbridge-control-plane"
DATA = ROOT / "deploy" / "helm" / "jetbridge-data-plane"
# What the charts cannot default (a broker list, this data plane's id).
REQUIRED = {
    CONTROL: [
        "--set",
        "kafka.bootstrapServers=kafka:9092",
        "--set",
        "airflowRegistry=registry.example.com",
    ],
    DATA: ["--set", "cluster.id=dp-test", "--set", "kafka.bootstrapServers=kafka:9092"],
}
ALL_ON = {CONTROL: HERE / "all_on_control_plane.yaml", DATA: HERE / "all_on_data_plane.yaml"}
SERVICES = {
    CONTROL: ("navigator", "projections", "dplink", "dispatcher", "console"),
    DATA: ("agent", "pilot"),
}
RELEASE = "jb"
SETTINGS: dict[str, type[BaseSettings]] = {
    "navigator": NavigatorSettings,
    "projections": ProjectionSettings,
    "dplink": DPLinkSettings,
    "dispatcher": DispatcherSettings,
    "console": ConsoleSettings,
    "agent": AgentSettings,
    "pilot": PilotSettings,
}
# Exactly what services/pilot/jetbridge/pilot/adapters/kube_cluster.py calls.
PILOT_RULES = {
    ("", "namespaces"): {"get", "list", "watch", "create", "patch", "delete"},
    ("", "resourcequotas"): {"create", "patch"},
    ("", "limitranges"): {"create", "patch"},
    ("", "pods"): {"list"},
    ("rbac.authorization.k8s.io", "rolebindings"): {"create", "patch"},
    ("apps", "deployments"): {"get", "list", "watch", "create", "patch"},
    ("external-secrets.io", "pushsecrets"): {"get", "list", "watch", "create", "patch"},
    ("external-secrets.io", "externalsecrets"): {"get", "list", "watch", "create", "patch"},
}
Obj = dict[str, Any]


# --- helm ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def helm() -> Path:
    comp = next(c for c in kubebuild.COMPONENTS if c.name == "helm")
    path = kubebuild.binary("helm")
    if not kubebuild.is_built(comp):
        pytest.fail(
            f"helm is not built ({path} missing): run `make stack-up` or "
            "`deploy/local/kube/build.sh` (builds it from the Go module proxy)",
            pytrace=False,
        )
    return path


def run_helm(helm: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(helm), *args], capture_output=True, text=True, check=False, timeout=120
    )
    if ok and proc.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def render(helm: Path, chart: Path, *extra: str, namespace: str = "jetbridge") -> list[Obj]:
    out = run_helm(
        helm, "template", RELEASE, str(chart), "--namespace", namespace, *REQUIRED[chart], *extra
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def by_kind(objs: list[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def values(chart: Path) -> Obj:
    return dict(yaml.safe_load((chart / "values.yaml").read_text()))


def container(deployment: Obj) -> Obj:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


def env_of(deployment: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in container(deployment)["env"]}


def settings_env_names(cls: type[BaseSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix") or "")
    return {(prefix + name).upper() for name in cls.model_fields}


# --- lint and render -------------------------------------------------------------------
@pytest.mark.parametrize("chart", [CONTROL, DATA], ids=lambda c: c.name)
def test_lint(helm: Path, chart: Path) -> None:
    run_helm(helm, "lint", "--strict", str(chart), *REQUIRED[chart])
    run_helm(helm, "lint", "--strict", str(chart), "--values", str(ALL_ON[chart]))


def test_required_values_are_refused_with_their_name(helm: Path) -> None:
    proc = run_helm(helm, "template", RELEASE, str(CONTROL), ok=False)
    assert proc.returncode != 0 and "kafka.bootstrapServers is required" in proc.stderr
    kafka_only = REQUIRED[CONTROL][:2]
    proc = run_helm(helm, "template", RELEASE, str(CONTROL), *kafka_only, ok=False)
    assert proc.returncode != 0 and "airflowRegistry is required" in proc.stderr
    proc = run_helm(
        helm, "template", RELEASE, str(DATA), "--set", "kafka.bootstrapServers=k:9092", ok=False
    )
    assert proc.returncode != 0 and "cluster.id is required" in proc.stderr
    bad = ["template", RELEASE, str(DATA), *REQUIRED[DATA], "--set", "cluster.id=Not_A_Label"]
    proc = run_helm(helm, *bad, ok=False)  # values.schema.json first
    assert proc.returncode != 0 and "/cluster/id" in proc.stderr
    proc = run_helm(helm, *bad, "--skip-schema-validation", ok=False)  # then the template
    assert proc.returncode != 0 and "must be a DNS label" in proc.stderr
    # the Pilot's admission policy needs Kubernetes 1.30; older clusters turn it off
    old_kube = ["template", RELEASE, str(DATA), *REQUIRED[DATA], "--kube-version", "1.29.4"]
    proc = run_helm(helm, *old_kube, ok=False)
    assert proc.returncode != 0 and "pilot.rbac.namespaceGuard=false" in proc.stderr
    # ...and with it the Secrets per namespace, which the policy keeps to airflow-*
    proc = run_helm(helm, *old_kube, "--set", "pilot.rbac.namespaceGuard=false", ok=False)
    assert proc.returncode != 0
    assert "pilot.rbac.secretsPerNamespace needs pilot.rbac.namespaceGuard" in proc.stderr
    unguarded = run_helm(
        helm,
        *old_kube,
        "--set",
        "pilot.rbac.namespaceGuard=false",
        "--set",
        "pilot.rbac.secretsPerNamespace=false",
    )
    assert "ValidatingAdmissionPolicy" not in unguarded.stdout
    assert "kind: ClusterRole" in unguarded.stdout


def test_replicas_beyond_what_kafka_or_the_single_writer_allow_are_refused(helm: Path) -> None:
    proc = run_helm(
        helm,
        "template",
        RELEASE,
        str(CONTROL),
        *REQUIRED[CONTROL],
        "--set",
        "navigator.replicas=2",
        ok=False,
    )
    assert proc.returncode != 0 and "/navigator/replicas" in proc.stderr  # the schema
    for setting, why in (
        ("navigator.replicas=2", "single writer"),
        ("dplink.replicas=7", "partitions of jetbridge.cluster.events"),
        (
            "dispatcher.autoscaling.enabled=true,dispatcher.autoscaling.maxReplicas=13",
            "jetbridge.failover.events",
        ),
    ):
        proc = run_helm(
            helm,
            "template",
            RELEASE,
            str(CONTROL),
            *REQUIRED[CONTROL],
            "--set",
            setting,
            "--skip-schema-validation",
            ok=False,
        )
        assert proc.returncode != 0 and why in proc.stderr, (setting, proc.stderr)


@pytest.mark.parametrize("chart", [CONTROL, DATA], ids=lambda c: c.name)
def test_defaults_one_deployment_per_service(helm: Path, chart: Path) -> None:
    objs = render(helm, chart)
    defaults = values(chart)
    deployments = by_kind(objs, "Deployment")
    assert set(deployments) == {f"{RELEASE}-{s}" for s in SERVICES[chart]}
    assert not by_kind(objs, "HorizontalPodAutoscaler")  # optional, off by default
    pdbs = by_kind(objs, "PodDisruptionBudget")
    for svc in SERVICES[chart]:
        dep = deployments[f"{RELEASE}-{svc}"]
        assert dep["spec"]["replicas"] == defaults[svc]["replicas"], svc
        assert dep["metadata"]["namespace"] == "jetbridge"
        pod = dep["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == f"{RELEASE}-{svc}"
        assert pod["securityContext"]["runAsNonRoot"] is True
        c = container(dep)
        assert c["image"] == "ghcr.io/jetbridge/jetbridge:0.1.0"
        assert c["args"][0] == f"jetbridge.{svc}" or (
            svc == "projections" and c["args"] == ["jetbridge.navigator.projections", "run"]
        )
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert (
                c[probe]["periodSeconds"] == defaults[svc]["probes"][probe[:-5]]["periodSeconds"]
            ), (svc, probe)
        assert (
            pdbs[f"{RELEASE}-{svc}"]["spec"]["selector"]["matchLabels"]
            == dep["spec"]["selector"]["matchLabels"]
        )


def probe_handler(dep: Obj, probe: str = "livenessProbe") -> tuple[str, Any]:
    handlers = {
        k: v
        for k, v in container(dep)[probe].items()
        if k in ("httpGet", "tcpSocket", "exec", "grpc")
    }
    (only,) = handlers.items()
    return only


NO_API_PORT = ("navigator", "projections", "dplink", "dispatcher", "pilot")


def test_probes_match_what_each_service_serves(helm: Path) -> None:
    deps = by_kind(render(helm, CONTROL), "Deployment") | by_kind(render(helm, DATA), "Deployment")
    paths = {"startupProbe": "/livez", "livenessProbe": "/livez", "readinessProbe": "/readyz"}
    for svc in NO_API_PORT:  # the metrics port's probes (jetbridge.common.health)
        for probe, path in paths.items():
            kind, handler = probe_handler(deps[f"{RELEASE}-{svc}"], probe)
            assert (kind, handler) == ("httpGet", {"path": path, "port": "metrics"}), svc
        assert container(deps[f"{RELEASE}-{svc}"])["ports"] == [
            {"name": "metrics", "containerPort": 9464, "protocol": "TCP"}
        ]
        assert env_of(deps[f"{RELEASE}-{svc}"])[METRICS_PORT_ENV]["value"] == "9464"
    off = "--set", "metrics.enabled=false"
    plain = by_kind(render(helm, CONTROL, *off), "Deployment") | by_kind(
        render(helm, DATA, *off), "Deployment"
    )
    for svc in NO_API_PORT:  # no port at all: the exec probe
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            kind, handler = probe_handler(plain[f"{RELEASE}-{svc}"], probe)
            assert kind == "exec" and handler["command"][:2] == ["python", "-c"], svc
        assert "ports" not in container(plain[f"{RELEASE}-{svc}"])
        assert METRICS_PORT_ENV not in env_of(plain[f"{RELEASE}-{svc}"])
    kind, handler = probe_handler(deps[f"{RELEASE}-console"])
    assert (kind, handler) == ("httpGet", {"path": "/api/v1/health", "port": "http"})
    # Its port opens before Kafka is reached: readiness waits for the ledger (/readyz).
    kind, handler = probe_handler(deps[f"{RELEASE}-console"], "readinessProbe")
    assert (kind, handler) == ("httpGet", {"path": "/readyz", "port": "metrics"})
    kind, handler = probe_handler(plain[f"{RELEASE}-console"], "readinessProbe")
    assert (kind, handler) == ("httpGet", {"path": "/api/v1/health", "port": "http"})
    assert container(deps[f"{RELEASE}-console"])["ports"][0]["containerPort"] == 8470
    kind, handler = probe_handler(deps[f"{RELEASE}-agent"], "readinessProbe")
    assert (kind, handler) == ("tcpSocket", {"port": "grpc"})
    assert container(deps[f"{RELEASE}-agent"])["ports"][0]["containerPort"] == 50051


def test_process_probe_passes_only_while_pid1_has_a_live_child(helm: Path) -> None:
    """The exec probe's script, run in a fresh PID namespace where PID 1 is a shell."""
    dep = by_kind(render(helm, CONTROL, "--set", "metrics.enabled=false"), "Deployment")[
        f"{RELEASE}-navigator"
    ]
    script = probe_handler(dep)[1]["command"][2]
    probe = f"{sys.executable} -c {quote(script)}"
    unshare = ["unshare", "--fork", "--pid", "--mount-proc", "sh", "-c"]
    alive = subprocess.run(
        [*unshare, f"sleep 30 & {probe}; echo rc=$?; kill %1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if alive.returncode != 0 and "Operation not permitted" in alive.stderr:
        pytest.fail(f"unshare is not permitted here: {alive.stderr}", pytrace=False)
    assert "rc=0" in alive.stdout, alive
    dead = subprocess.run(
        [*unshare, f"{probe}; echo rc=$?"], capture_output=True, text=True, check=False, timeout=60
    )
    assert "rc=1" in dead.stdout, dead


def quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def test_env_names_are_the_ones_the_settings_classes_read(helm: Path) -> None:
    for chart in (CONTROL, DATA):
        for extra in ([], ["--values", str(ALL_ON[chart])]):
            for name, dep in by_kind(render(helm, chart, *extra), "Deployment").items():
                svc = name.removeprefix(f"{RELEASE}-")
                known = (
                    settings_env_names(SETTINGS[svc])
                    | settings_env_names(StackSettings)
                    | settings_env_names(KafkaSecurity)
                    | {METRICS_PORT_ENV, METRICS_HOST_ENV}
                )  # read by jetbridge.common.metrics
                jetbridge = {n for n in env_of(dep) if n.startswith("JETBRIDGE_")}
                assert jetbridge, svc
                assert jetbridge <= known, (svc, sorted(jetbridge - known))
                # every required setting (no default) is set
                required = {
                    (str(SETTINGS[svc].model_config.get("env_prefix")) + f).upper()
                    for f, info in SETTINGS[svc].model_fields.items()
                    if info.is_required()
                }
                assert required <= jetbridge, (svc, sorted(required - jetbridge))


def test_the_airflow_registry_is_one_control_plane_setting(helm: Path) -> None:
    """The spec: one registry per installation, configured on the control plane."""
    extra = ["--set", "airflowRegistry=registry.example.com:5000"]
    deployments = by_kind(render(helm, CONTROL, *extra), "Deployment")
    for svc in ("navigator", "console"):
        env = env_of(deployments[f"{RELEASE}-{svc}"])
        assert env["JETBRIDGE_REGISTRY"]["value"] == "registry.example.com:5000", svc
    for dep in by_kind(render(helm, DATA, "--values", str(ALL_ON[DATA])), "Deployment").values():
        assert not [n for n in env_of(dep) if "REGISTRY" in n], dep["metadata"]["name"]
    bad = ["--set", "airflowRegistry=registry.example.com/org"]
    proc = run_helm(helm, "template", RELEASE, str(CONTROL), *REQUIRED[CONTROL], *bad, ok=False)
    assert proc.returncode != 0 and "/airflowRegistry" in proc.stderr


def test_kafka_tls_gives_every_service_the_client_certificate(helm: Path) -> None:
    mount = "/etc/jetbridge/kafka-tls"
    for chart in (CONTROL, DATA):
        for extra, secret in (
            ([], "jetbridge-kafka-tls"),  # the default: mutual TLS
            (["--values", str(ALL_ON[chart])], "jetbridge-kafka-client"),
        ):
            assert_kafka_tls(render(helm, chart, *extra), mount, secret)
        off = ["--set", "kafka.tls.enabled=false"]
        proc = run_helm(helm, "template", RELEASE, str(chart), *REQUIRED[chart], *off, ok=False)
        assert proc.returncode != 0 and "kafka.tls.allowPlaintext=true" in proc.stderr
        plain = by_kind(
            render(helm, chart, *off, "--set", "kafka.tls.allowPlaintext=true"), "Deployment"
        ).values()
        assert plain and not [d for d in plain if "JETBRIDGE_KAFKA_SECURITY_PROTOCOL" in env_of(d)]
        assert not [
            d
            for d in plain
            if "kafka-tls" in {v["name"] for v in d["spec"]["template"]["spec"]["volumes"]}
        ]
        unnamed = ["--set", "kafka.tls.existingSecret="]
        proc = run_helm(helm, "template", RELEASE, str(chart), *REQUIRED[chart], *unnamed, ok=False)
        assert proc.returncode != 0 and "kafka.tls.existingSecret is required" in proc.stderr


def assert_kafka_tls(objs: list[Obj], mount: str, secret: str) -> None:
    """Every service speaks SSL to Kafka with the client certificate of ``secret``."""
    deployments = by_kind(objs, "Deployment")
    assert deployments
    for name, dep in deployments.items():
        env = {k: e.get("value") for k, e in env_of(dep).items()}
        assert env["JETBRIDGE_KAFKA_SECURITY_PROTOCOL"] == "SSL", name
        assert (
            env["JETBRIDGE_KAFKA_SSL_CAFILE"],
            env["JETBRIDGE_KAFKA_SSL_CERTFILE"],
            env["JETBRIDGE_KAFKA_SSL_KEYFILE"],
        ) == (f"{mount}/ca.crt", f"{mount}/tls.crt", f"{mount}/tls.key"), name
        mounts = {m["name"]: m for m in container(dep)["volumeMounts"]}
        assert mounts["kafka-tls"] == {
            "name": "kafka-tls",
            "mountPath": mount,
            "readOnly": True,
        }
        volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
        assert volumes["kafka-tls"]["secret"]["secretName"] == secret, name


def test_credentials_are_secret_references_never_values(helm: Path) -> None:
    for chart in (CONTROL, DATA):
        for extra in ([], ["--values", str(ALL_ON[chart])]):
            objs = render(helm, chart, *extra)
            assert not by_kind(objs, "Secret")
            text = yaml.safe_dump_all(objs)
            for needle in ("postgresql://", "mysql://", "BEGIN ", "password"):
                assert needle not in text, needle
            for dep in by_kind(objs, "Deployment").values():
                for name, var in env_of(dep).items():
                    if name.endswith(("_DSN", "_LEDGER_KEY")):
                        ref = var["valueFrom"]["secretKeyRef"]
                        assert ref["name"] and ref["key"] and "value" not in var, name
    nav = env_of(by_kind(render(helm, CONTROL), "Deployment")[f"{RELEASE}-navigator"])
    assert nav["JETBRIDGE_NAVIGATOR_DSN"]["valueFrom"]["secretKeyRef"] == {
        "name": "jetbridge-navigator-db",
        "key": "dsn",
    }
    assert nav["JETBRIDGE_LEDGER_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "jetbridge-ledger-key",
        "key": "ledger-key",
    }


def volume(dep: Obj, name: str) -> Obj:
    return next(v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == name)


def test_tls_material_is_mounted_from_secrets_in_the_layout_the_services_read(helm: Path) -> None:
    cp = by_kind(render(helm, CONTROL), "Deployment")
    for svc in ("dplink", "dispatcher"):
        tls = volume(cp[f"{RELEASE}-{svc}"], "tls")["secret"]
        assert tls["secretName"] == "jetbridge-control-plane-tls"
        assert {i["path"] for i in tls["items"]} == {
            "ca.pem",
            "control-plane.pem",
            "control-plane.key",
        }
        assert (
            env_of(cp[f"{RELEASE}-{svc}"])[f"JETBRIDGE_{svc.upper()}_TLS_DIR"]["value"]
            == "/etc/jetbridge/tls"
        )
    tokens = volume(cp[f"{RELEASE}-console"], "tokens")["secret"]
    assert tokens["secretName"] == "jetbridge-console-tokens"
    agent = by_kind(render(helm, DATA), "Deployment")[f"{RELEASE}-agent"]
    tls = volume(agent, "tls")["secret"]
    assert tls["secretName"] == "jetbridge-data-plane-tls"
    assert {i["path"] for i in tls["items"]} == {
        "ca.pem",
        "clusters/dp-test.pem",
        "clusters/dp-test.key",
    }


def rules_of(role: Obj) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert not rule.get("resourceNames") and not rule.get("nonResourceURLs")
        for group in rule["apiGroups"]:
            for res in rule["resources"]:
                out.setdefault((group, res), set()).update(rule["verbs"])
    return out


def without_bind(role: Obj) -> tuple[Obj, Obj]:
    """The role without its one ``bind`` rule, and that rule."""
    (bind,) = [r for r in role["rules"] if r["verbs"] == ["bind"]]
    assert bind["apiGroups"] == ["rbac.authorization.k8s.io"]
    assert bind["resources"] == ["clusterroles"]
    return {**role, "rules": [r for r in role["rules"] if r is not bind]}, bind


async def test_pilot_rbac_is_exactly_what_the_steps_ask_of_a_cluster(helm: Path) -> None:
    """Derived from the steps themselves (tests/unit/pilot/cluster_calls.py), not from
    a list kept by hand: a call the role lacks fails here, and so does a grant no step
    uses."""
    from tests.unit.pilot.cluster_calls import rules_the_steps_need  # noqa: PLC0415

    roles = by_kind(render(helm, DATA), "ClusterRole")
    pilot, bind = without_bind(roles[f"jetbridge-{RELEASE}-pilot"])
    # the Secrets role, which CREATE_NAMESPACE binds per namespace (RBAC checks the
    # "bind" when the RoleBinding is written: no step asks it)
    secrets = roles[f"jetbridge-{RELEASE}-pilot-secrets"]
    assert bind["resourceNames"] == [secrets["metadata"]["name"]]
    assert rules_of(pilot) | rules_of(secrets) == await rules_the_steps_need()
    assert set(rules_of(pilot)).isdisjoint(rules_of(secrets))  # no Secrets cluster-wide


def test_pilot_rbac_is_exactly_what_the_kube_adapter_calls(helm: Path) -> None:
    objs = render(helm, DATA)
    roles = by_kind(objs, "ClusterRole")
    pilot_name = f"jetbridge-{RELEASE}-pilot"
    assert set(roles) == {pilot_name, f"{pilot_name}-secrets", f"jetbridge-{RELEASE}-agent"}
    pilot, bind = without_bind(roles[pilot_name])
    assert rules_of(pilot) == PILOT_RULES
    assert bind["resourceNames"] == [f"{pilot_name}-secrets"]
    assert rules_of(roles[f"{pilot_name}-secrets"]) == {("", "secrets"): {"get", "create"}}
    pilot_env = env_of(by_kind(objs, "Deployment")[f"{RELEASE}-pilot"])
    assert pilot_env["JETBRIDGE_PILOT_SECRETS_ROLE"]["value"] == f"{pilot_name}-secrets"
    assert pilot_env["JETBRIDGE_PILOT_SERVICE_ACCOUNT"]["value"] == f"jetbridge/{RELEASE}-pilot"
    # secretsPerNamespace=false: Secrets in the ClusterRole, nothing bound per namespace
    wide = render(helm, DATA, "--set", "pilot.rbac.secretsPerNamespace=false")
    wide_roles = by_kind(wide, "ClusterRole")
    assert f"{pilot_name}-secrets" not in wide_roles
    assert rules_of(wide_roles[pilot_name]) == {
        **{k: v for k, v in PILOT_RULES.items() if k[0] != "rbac.authorization.k8s.io"},
        ("", "secrets"): {"get", "create"},
    }
    wide_env = env_of(by_kind(wide, "Deployment")[f"{RELEASE}-pilot"])
    assert "JETBRIDGE_PILOT_SECRETS_ROLE" not in wide_env
    # the agent: a GET of the one store it observes (agent.observeSecretStore) and a
    # LIST of namespaces and of Deployments (Airflow's schedulers), its inventory
    # (agent.observeInventory)
    store_rule, inventory_rule, schedulers_rule = roles[f"jetbridge-{RELEASE}-agent"]["rules"]
    assert store_rule == {
        "apiGroups": ["external-secrets.io"],
        "resources": ["clustersecretstores"],
        "resourceNames": ["jetbridge-secrets"],
        "verbs": ["get"],
    }
    assert inventory_rule == {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}
    assert schedulers_rule == {
        "apiGroups": ["apps"],
        "resources": ["deployments"],
        "verbs": ["list"],
    }
    no_store = render(helm, DATA, "--set", "agent.observeSecretStore=false")
    assert by_kind(no_store, "ClusterRole")[f"jetbridge-{RELEASE}-agent"]["rules"] == [
        inventory_rule,
        schedulers_rule,
    ]
    assert not by_kind(objs, "Role")
    bindings = by_kind(objs, "ClusterRoleBinding")
    for svc in ("pilot", "agent"):
        binding = bindings[f"jetbridge-{RELEASE}-{svc}"]
        assert binding["roleRef"]["name"] == f"jetbridge-{RELEASE}-{svc}"
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": f"{RELEASE}-{svc}", "namespace": "jetbridge"}
        ]
    accounts = by_kind(objs, "ServiceAccount")
    assert accounts[f"{RELEASE}-pilot"]["automountServiceAccountToken"] is True
    assert accounts[f"{RELEASE}-agent"]["automountServiceAccountToken"] is True
    blind = render(
        helm,
        DATA,
        "--set",
        "agent.observeSecretStore=false",
        "--set",
        "agent.observeInventory=false",
    )
    assert set(by_kind(blind, "ClusterRole")) == {pilot_name, f"{pilot_name}-secrets"}
    assert (
        by_kind(blind, "ServiceAccount")[f"{RELEASE}-agent"]["automountServiceAccountToken"]
        is False
    )
    blind_agent = next(
        d
        for d in by_kind(blind, "Deployment").values()
        if d["metadata"]["name"] == f"{RELEASE}-agent"
    )
    blind_env = {e["name"] for e in blind_agent["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "JETBRIDGE_AGENT_SECRET_STORE" not in blind_env
    assert {"name": "JETBRIDGE_AGENT_INVENTORY_FROM", "value": "facts"} in blind_agent["spec"][
        "template"
    ]["spec"]["containers"][0]["env"]
    control = render(helm, CONTROL)
    assert not by_kind(control, "ClusterRole") and not by_kind(control, "Role")
    assert all(
        sa["automountServiceAccountToken"] is False
        for sa in by_kind(control, "ServiceAccount").values()
    )
    # the in-cluster kubeconfig the Pilot reads (JETBRIDGE_PILOT_KUBECONFIG)
    kubeconfig = yaml.safe_load(
        by_kind(objs, "ConfigMap")[f"{RELEASE}-pilot-kubeconfig"]["data"]["kubeconfig"]
    )
    assert (
        kubeconfig["users"][0]["user"]["tokenFile"]
        == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    )
    all_on = rules_of(
        without_bind(
            by_kind(render(helm, DATA, "--values", str(ALL_ON[DATA])), "ClusterRole")[pilot_name]
        )[0]
    )
    assert all_on == PILOT_RULES | {
        ("external-secrets.io", "clustersecretstores"): {"get", "list", "watch"}
    }
    off = render(helm, DATA, "--set", "pilot.rbac.create=false")
    assert set(by_kind(off, "ClusterRole")) == {f"jetbridge-{RELEASE}-agent"}
    assert not by_kind(off, "ValidatingAdmissionPolicy")
    guard = f"jetbridge-{RELEASE}-pilot"
    policies = by_kind(objs, "ValidatingAdmissionPolicy")
    assert set(policies) == {guard}
    (condition,) = policies[guard]["spec"]["matchConditions"]
    assert f"'system:serviceaccount:jetbridge:{RELEASE}-pilot'" in condition["expression"]
    assert by_kind(objs, "ValidatingAdmissionPolicyBinding")[guard]["spec"] == {
        "policyName": guard,
        "validationActions": ["Deny"],
    }
    unguarded = render(
        helm,
        DATA,
        "--set",
        "pilot.rbac.namespaceGuard=false",
        "--set",
        "pilot.rbac.secretsPerNamespace=false",
    )
    assert not by_kind(unguarded, "ValidatingAdmissionPolicy")


def egress_ports(policy: Obj) -> list[set[int]]:
    return [{p["port"] for p in rule["ports"]} for rule in policy["spec"]["egress"]]


@pytest.mark.parametrize("chart", [CONTROL, DATA], ids=lambda c: c.name)
def test_network_policies_default_deny_plus_one_per_service(helm: Path, chart: Path) -> None:
    policies = by_kind(render(helm, chart), "NetworkPolicy")
    deny = policies.pop(f"{RELEASE}-default-deny")["spec"]
    assert deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny and "egress" not in deny
    assert set(policies) == {f"{RELEASE}-{s}" for s in SERVICES[chart]}
    served = {f"{RELEASE}-console": 8470, f"{RELEASE}-agent": 50051}
    for name, pol in policies.items():
        spec = pol["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        ports = [{p["port"] for p in rule["ports"]} for rule in spec["egress"]]
        assert ports[0] == {53}, name  # DNS first
        ingress = [{p["port"] for p in rule["ports"]} for rule in spec["ingress"]]
        assert ingress == ([{served[name]}] if name in served else []) + [{9464}], name
    plain = by_kind(render(helm, chart, "--set", "metrics.enabled=false"), "NetworkPolicy")
    for name, pol in plain.items():
        if name != f"{RELEASE}-default-deny":
            assert bool(pol["spec"]["ingress"]) == (name in served), name
    if chart == CONTROL:
        assert egress_ports(policies[f"{RELEASE}-navigator"]) == [{53}, {9092}, {5432}]
        console_in = policies[f"{RELEASE}-console"]["spec"]["ingress"]
        assert console_in[0] == {"ports": [{"port": 8470, "protocol": "TCP"}]}  # from anywhere
    else:
        assert egress_ports(policies[f"{RELEASE}-pilot"]) == [
            {53},
            {5432, 3306},
            {5432, 3306},
            {9092},
            {443, 6443},
        ]
        # Flightdeck, and the API server for the ClusterSecretStore it observes
        assert egress_ports(policies[f"{RELEASE}-agent"]) == [{53}, {5432, 3306}, {443, 6443}]
    off = render(helm, chart, "--set", "networkPolicy.enabled=false")
    assert not by_kind(off, "NetworkPolicy")


def test_everything_optional_switched_on(helm: Path) -> None:
    cp = render(helm, CONTROL, "--values", str(ALL_ON[CONTROL]))
    dp = render(helm, DATA, "--values", str(ALL_ON[DATA]))
    hpas = by_kind(cp, "HorizontalPodAutoscaler") | by_kind(dp, "HorizontalPodAutoscaler")
    assert set(hpas) == {
        f"{RELEASE}-{s}" for s in ("dplink", "dispatcher", "console", "agent", "pilot")
    }
    spec = hpas[f"{RELEASE}-dplink"]["spec"]
    assert hpas[f"{RELEASE}-dplink"]["apiVersion"] == "autoscaling/v2"
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 6)
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": f"{RELEASE}-dplink",
    }
    assert {m["resource"]["name"] for m in spec["metrics"]} == {"cpu", "memory"}
    assert (
        hpas[f"{RELEASE}-dispatcher"]["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"]
        == 300
    )
    deps = by_kind(cp, "Deployment") | by_kind(dp, "Deployment")
    for name, dep in deps.items():  # the HPA owns replicas of the autoscaled ones
        assert ("replicas" in dep["spec"]) == (name not in hpas), name
    assert deps[f"{RELEASE}-navigator"]["spec"]["replicas"] == 1
    assert deps[f"{RELEASE}-navigator"]["spec"]["strategy"] == {"type": "Recreate"}
    assert deps[f"{RELEASE}-projections"]["spec"]["replicas"] == 2
    for svc in ("navigator", "agent"):
        assert container(deps[f"{RELEASE}-{svc}"])["image"].startswith(
            "ghcr.io/jetbridge/jetbridge@sha256:"
        )
    assert by_kind(cp, "PodDisruptionBudget")[f"{RELEASE}-console"]["spec"] == {
        "minAvailable": 2,
        "selector": {
            "matchLabels": {
                "app.kubernetes.io/name": "console",
                "app.kubernetes.io/instance": RELEASE,
            }
        },
    }
    disp = env_of(deps[f"{RELEASE}-dispatcher"])
    assert disp["JETBRIDGE_DISPATCHER_WORK_TOPIC"]["value"] == "sandbox.jetbridge.failover.events"
    assert yaml.safe_load(disp["JETBRIDGE_DISPATCHER_STATE_TOPICS"]["value"]) == [
        "sandbox.jetbridge.failover.events",
        "sandbox.jetbridge.cluster.events",
    ]
    proj = env_of(deps[f"{RELEASE}-projections"])
    assert "JETBRIDGE_PROJECTIONS_DSN" in proj and "JETBRIDGE_NAVIGATOR_DSN" not in proj
    pilot = env_of(deps[f"{RELEASE}-pilot"])
    assert pilot["JETBRIDGE_PILOT_DATABASE_SIDE"]["value"] == "B"
    assert pilot["JETBRIDGE_PILOT_DATABASE_USERS"]["value"] == "customer"
    agent = env_of(deps[f"{RELEASE}-agent"])
    assert agent["JETBRIDGE_AGENT_DATABASE_SIDE"]["value"] == "B"  # one value, both read it
    assert (
        pilot["JETBRIDGE_PILOT_TASK_INSTANCES_DSN"]["valueFrom"]["secretKeyRef"]["name"]
        == "jetbridge-task-instances"
    )
    assert (
        volume(deps[f"{RELEASE}-pilot"], "kubeconfig")["secret"]["secretName"]
        == "jetbridge-pilot-kubeconfig"
    )
    assert f"{RELEASE}-pilot-kubeconfig" not in by_kind(dp, "ConfigMap")
    facts = by_kind(dp, "ConfigMap")[f"{RELEASE}-agent-facts"]
    assert yaml.safe_load(facts["data"]["facts.json"])["plane_mode"] == "DATA"
    assert (
        env_of(deps[f"{RELEASE}-agent"])["JETBRIDGE_AGENT_FACTS_FILE"]["value"]
        == "/etc/jetbridge/facts/facts.json"
    )
    policies = by_kind(cp, "NetworkPolicy") | by_kind(dp, "NetworkPolicy")
    assert policies[f"{RELEASE}-default-deny"]["spec"]["podSelector"] == {}
    assert policies[f"{RELEASE}-console"]["spec"]["ingress"][0]["from"][0]["namespaceSelector"][
        "matchLabels"
    ] == {"kubernetes.io/metadata.name": "ingress-nginx"}
    assert policies[f"{RELEASE}-agent"]["spec"]["ingress"][0]["from"] == [
        {"ipBlock": {"cidr": "198.51.100.0/24"}}
    ]
    for name, pol in policies.items():
        if name != f"{RELEASE}-default-deny":
            assert pol["spec"]["ingress"][-1]["from"] == [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                    }
                }
            ], name  # metricsFrom
            assert egress_ports(pol)[-1] == {4318}, name  # tracing.otlpEndpoint
    for dep in deps.values():
        assert (
            env_of(dep)["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel.observability:4318"
        )
    services = by_kind(dp, "Service")
    assert services[f"{RELEASE}-agent"]["spec"]["type"] == "LoadBalancer"


# --- server-side dry-run ---------------------------------------------------------------
@pytest.fixture(scope="session")
def kube_api() -> Iterator[client.ApiClient]:
    """The local dp-east cluster (``kubestack.up()`` reuses it or starts it, as the
    fixtures of tests/integration/kube do)."""
    stack = kubestack.up()
    east = stack.kubeconfigs[kubestack.DEFAULT_CLUSTERS[0]]
    api = config.new_client_from_config(config_file=str(east))
    yield api
    api.close()


@pytest.fixture
def throwaway_namespace(kube_api: client.ApiClient) -> Iterator[str]:
    name = f"helm-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    try:
        core.delete_namespace(name)
    except client.ApiException as err:
        if err.status != 404:
            raise


def test_every_rendered_object_passes_a_server_side_dry_run(
    helm: Path, kube_api: client.ApiClient, throwaway_namespace: str
) -> None:
    dyn = dynamic.DynamicClient(kube_api)
    seen: dict[str, int] = {}
    for chart in (CONTROL, DATA):
        for extra in ([], ["--values", str(ALL_ON[chart])]):
            for obj in render(helm, chart, *extra, namespace=throwaway_namespace):
                resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
                if resource.namespaced:
                    assert obj["metadata"]["namespace"] == throwaway_namespace
                try:
                    created = resource.create(
                        body=obj, namespace=obj["metadata"].get("namespace"), dry_run="All"
                    )
                except client.ApiException as err:
                    pytest.fail(
                        f"{chart.name} {obj['kind']} {obj['metadata']['name']}: "
                        f"{err.status} {err.body}"
                    )
                assert created.metadata.name == obj["metadata"]["name"]
                seen[obj["kind"]] = seen.get(obj["kind"], 0) + 1
    assert {
        "Deployment",
        "Service",
        "ServiceAccount",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
    } <= set(seen)
    # dry-run persisted nothing
    left = client.AppsV1Api(kube_api).list_namespaced_deployment(throwaway_namespace).items
    assert left == []


def test_the_two_charts_share_one_helpers_file() -> None:
    assert (CONTROL / "templates" / "_common.tpl").read_text() == (
        DATA / "templates" / "_common.tpl"
    ).read_text()


# --- the Pilot's RBAC, for real --------------------------------------------------------
def write_token_kubeconfig(admin: client.ApiClient, ns: str, sa: str, path: Path) -> Path:
    token = (
        client.CoreV1Api(admin)
        .create_namespaced_service_account_token(sa, ns, {"spec": {"expirationSeconds": 600}})
        .status.token
    )
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "pilot",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {
                            "server": admin.configuration.host,
                            "certificate-authority": admin.configuration.ssl_ca_cert,
                        },
                    }
                ],
                "users": [{"name": "pilot", "user": {"token": token}}],
                "contexts": [{"name": "pilot", "context": {"cluster": "c", "user": "pilot"}}],
            }
        )
    )
    return path


ACCESS_KINDS = (
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
)


def rbac_objects(helm: Path, namespace: str, svc: str) -> list[Obj]:
    """One service's ServiceAccount, ClusterRole and binding, and the Pilot's admission
    policy and its binding, as the chart renders them."""
    return [
        o
        for o in render(helm, DATA, namespace=namespace)
        if o["kind"] in ACCESS_KINDS
        and o["metadata"]["name"].endswith((f"{RELEASE}-{svc}", f"{RELEASE}-{svc}-secrets"))
    ]


def wait_for_the_namespace_guard(kubeconfig: Path, namespace: str) -> None:
    """The API server loads a new admission policy within about a second: until then
    the ClusterRole alone decides. Asks with a dry run, so nothing is deleted."""
    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                client.CoreV1Api(api).delete_namespace(namespace, dry_run="All")
            except client.ApiException as err:
                if "ValidatingAdmissionPolicy" in str(err.body):
                    return
            assert time.monotonic() < deadline, "the Pilot's admission policy never applied"
            time.sleep(0.2)
    finally:
        api.close()


@contextlib.contextmanager
def chart_rbac(
    helm: Path, kube_api: client.ApiClient, namespace: str, svc: str, kubeconfig: Path
) -> Iterator[Path]:
    """Install the chart's ServiceAccount, ClusterRole and binding of ``svc`` (and the
    Pilot's admission policy); yield a kubeconfig acting as that ServiceAccount; remove
    the cluster-scoped ones after."""
    dyn = dynamic.DynamicClient(kube_api)
    objs = rbac_objects(helm, namespace, svc)
    kinds = ["ClusterRole", "ClusterRoleBinding", "ServiceAccount"]
    if svc == "pilot":  # and the Secrets role it binds per namespace
        kinds += ["ClusterRole", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
    assert sorted(o["kind"] for o in objs) == sorted(kinds)
    made = []
    try:
        for obj in objs:
            res = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
            res.create(body=obj, namespace=obj["metadata"].get("namespace"))
            made.append((res, obj))
        written = write_token_kubeconfig(kube_api, namespace, f"{RELEASE}-{svc}", kubeconfig)
        if svc == "pilot":
            wait_for_the_namespace_guard(written, namespace)
        yield written
    finally:
        for res, obj in reversed(made):
            if obj["kind"] != "ServiceAccount":  # goes with the namespace
                res.delete(name=obj["metadata"]["name"])


async def test_the_agent_reads_its_store_with_exactly_the_chart_rbac(
    helm: Path, kube_api: client.ApiClient, throwaway_namespace: str, tmp_path: Path
) -> None:
    """The agent's ServiceAccount may GET the one ClusterSecretStore the chart names
    (pilot.secretStore, the local clusters' real one) and LIST namespaces and
    Deployments (its inventory: the Pilot's namespaces, Airflow's schedulers), and
    nothing else."""
    from jetbridge.agent.adapters.inventory_kube import KubeInventoryReader  # noqa: PLC0415
    from jetbridge.agent.adapters.secret_store_kube import (  # noqa: PLC0415
        KubeSecretStoreReader,
    )
    from jetbridge.common.namespace_marks import DEPLOYMENT_LABEL  # noqa: PLC0415

    with chart_rbac(helm, kube_api, throwaway_namespace, "agent", tmp_path / "kc") as kc:
        reader = KubeSecretStoreReader(kc)
        deadline = time.monotonic() + 15
        while True:  # the binding reaches the authorizer within a moment
            try:
                store = await reader.read("jetbridge-secrets")
                break
            except client.ApiException:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        assert store is not None and store["metadata"]["name"] == "jetbridge-secrets"
        with pytest.raises(client.ApiException) as other:
            await reader.read("some-other-store")
        assert other.value.status == 403  # not 404: it may not even ask
        # Its inventory: a LIST of the labelled namespaces is allowed, reading one is not.
        listed = await KubeInventoryReader(kc).namespaces()
        assert all(DEPLOYMENT_LABEL in n["metadata"]["labels"] for n in listed)
        schedulers = await KubeInventoryReader(kc).schedulers()
        assert all(d["metadata"]["labels"]["component"] == "scheduler" for d in schedulers)
        with pytest.raises(client.ApiException) as one:
            await asyncio.to_thread(
                client.CoreV1Api(kube_api_as(kc)).read_namespace, throwaway_namespace
            )
        assert one.value.status == 403


def kube_api_as(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]


async def test_the_pilot_reads_its_registry_credentials_and_no_other_secret_of_its_namespace(
    helm: Path, kube_api: client.ApiClient, throwaway_namespace: str, tmp_path: Path
) -> None:
    """pilot.imagePullSecret: the Pilot's env names the Secret, and a Role lets it GET
    that one Secret of the release's namespace (to copy into the namespaces it makes),
    checked as the Pilot's ServiceAccount on the real API server."""
    from jetbridge.pilot.adapters.kube_cluster import KubernetesCluster  # noqa: PLC0415
    from jetbridge.pilot.domain.steps import StepFailure  # noqa: PLC0415

    ns = throwaway_namespace
    objs = render(helm, DATA, "--set", "pilot.imagePullSecret=registry-pull", namespace=ns)
    env = env_of(by_kind(objs, "Deployment")[f"{RELEASE}-pilot"])
    assert env["JETBRIDGE_PILOT_IMAGE_PULL_SECRET"]["value"] == f"{ns}/registry-pull"
    name = f"{RELEASE}-pilot-registry"
    role, binding = by_kind(objs, "Role")[name], by_kind(objs, "RoleBinding")[name]
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["registry-pull"],
            "verbs": ["get"],
        }
    ]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": f"{RELEASE}-pilot", "namespace": ns}
    ]
    assert "JETBRIDGE_PILOT_IMAGE_PULL_SECRET" not in env_of(
        by_kind(render(helm, DATA), "Deployment")[f"{RELEASE}-pilot"]
    )
    assert not by_kind(render(helm, DATA), "Role")
    core = client.CoreV1Api(kube_api)
    for secret in ("registry-pull", "other"):
        core.create_namespaced_secret(
            ns,
            {
                "metadata": {"name": secret},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": base64.b64encode(b'{"auths":{}}').decode()},
            },
        )
    dyn = dynamic.DynamicClient(kube_api)
    for obj in (role, binding):  # namespaced: they go with the throwaway namespace
        dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"]).create(
            body=obj, namespace=ns
        )
    with chart_rbac(helm, kube_api, ns, "pilot", tmp_path / "kc") as kubeconfig:
        cluster = KubernetesCluster("dp-east", kubeconfig)
        try:
            deadline = time.monotonic() + 15
            while True:  # the bindings reach the authorizer within a moment
                try:
                    found = await cluster.get("Secret", ns, "registry-pull")
                    break
                except StepFailure:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
            assert found is not None and found["type"] == "kubernetes.io/dockerconfigjson"
            with pytest.raises(StepFailure, match="403"):
                await cluster.get("Secret", ns, "other")
        finally:
            await cluster.close()


async def test_the_pilot_adapter_works_with_exactly_the_chart_rbac(
    helm: Path, kube_api: client.ApiClient, throwaway_namespace: str, tmp_path: Path
) -> None:
    """Install the chart's ServiceAccount, ClusterRole and binding, then run every call
    KubernetesCluster makes, as that ServiceAccount, through a Deployment's life."""
    from jetbridge.pilot.adapters.kube_cluster import KubernetesCluster  # noqa: PLC0415
    from jetbridge.pilot.domain.steps import StepFailure  # noqa: PLC0415

    ns = throwaway_namespace
    target = f"airflow-{ns}"  # the admission policy keeps the Pilot to airflow-*
    cluster = None
    installed = contextlib.ExitStack()
    try:
        kubeconfig = installed.enter_context(
            chart_rbac(helm, kube_api, ns, "pilot", tmp_path / "kc")
        )
        cluster = KubernetesCluster("dp-east", kubeconfig)
        deadline = time.monotonic() + 15
        while True:  # the binding reaches the authorizer within a moment
            try:
                assert await cluster.get("Namespace", None, target) is None
                break
            except StepFailure:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        meta = {"namespace": target}
        await cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": target, "labels": {"jetbridge": "t"}},
            }
        )
        await cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": {"name": "q", **meta},
                "spec": {"hard": {"requests.cpu": "4"}},
            }
        )
        await cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "LimitRange",
                "metadata": {"name": "l", **meta},
                "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}}]},
            }
        )
        # Secrets: refused until CREATE_NAMESPACE's RoleBinding holds in the namespace
        with pytest.raises(StepFailure, match="403"):
            await cluster.get("Secret", target, "fernet")
        from jetbridge.pilot.domain.airflow import (  # noqa: PLC0415
            DeploymentSpec,
            secrets_access_manifest,
        )

        spec = DeploymentSpec(target.removeprefix("airflow-"), "r/a:1")
        assert spec.namespace == target
        env = env_of(by_kind(render(helm, DATA, namespace=ns), "Deployment")[f"{RELEASE}-pilot"])
        role = env["JETBRIDGE_PILOT_SECRETS_ROLE"]["value"]
        account = env["JETBRIDGE_PILOT_SERVICE_ACCOUNT"]["value"]
        assert not await cluster.may("get", "Secret", target)
        await cluster.apply(secrets_access_manifest(spec, role, account))
        deadline = time.monotonic() + 15
        while not await cluster.may("get", "Secret", target):
            assert time.monotonic() < deadline, "the RoleBinding never took effect"
            await asyncio.sleep(0.1)
        # ... and only its role may be bound: not one with more in it
        escalate = secrets_access_manifest(spec, "cluster-admin", account)
        escalate["metadata"]["name"] = "escalate"
        with pytest.raises(StepFailure, match="403"):
            await cluster.apply(escalate)
        # ... and only to itself: RBAC would let it grant its Secrets role to anyone
        share = secrets_access_manifest(spec, role, account)
        share["metadata"]["name"] = "share"
        share["subjects"] = [
            {
                "kind": "Group",
                "name": "system:authenticated",
                "apiGroup": "rbac.authorization.k8s.io",
            }
        ]
        with pytest.raises(
            StepFailure, match="denied request: the Jetbridge Pilot only binds its Secrets role"
        ):
            await cluster.apply(share)
        assert await cluster.get("Secret", target, "fernet") is None
        fernet = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "fernet", **meta},
            "stringData": {"fernet-key": "x"},
        }
        assert await cluster.create(fernet) is True
        assert await cluster.create(fernet) is False  # made once, never overwritten
        with pytest.raises(StepFailure, match="403"):  # the Pilot no longer patches Secrets
            await cluster.apply(fernet)
        assert (await cluster.get("Secret", target, "fernet"))["data"]
        await cluster.apply(
            {
                "apiVersion": "external-secrets.io/v1alpha1",
                "kind": "PushSecret",
                "metadata": {"name": "push", **meta},
                "spec": {
                    "secretStoreRefs": [{"name": "s", "kind": "ClusterSecretStore"}],
                    "selector": {"secret": {"name": "fernet"}},
                    "data": [
                        {"match": {"secretKey": "fernet-key", "remoteRef": {"remoteKey": "k"}}}
                    ],
                },
            }
        )
        assert await cluster.get("PushSecret", target, "push") is not None
        await cluster.apply(
            {
                "apiVersion": "external-secrets.io/v1",
                "kind": "ExternalSecret",
                "metadata": {"name": "pull", **meta},
                "spec": {
                    "secretStoreRef": {"name": "s", "kind": "ClusterSecretStore"},
                    "target": {"name": "pulled"},
                    "dataFrom": [{"extract": {"key": "k"}}],
                },
            }
        )
        assert await cluster.get("ExternalSecret", target, "pull") is not None
        labels = {"release": "r", "component": "scheduler"}
        await cluster.apply(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "sched", "labels": labels, **meta},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "main", "image": "example/none:1"}]},
                    },
                },
            }
        )
        assert (await cluster.get("Deployment", target, "sched"))["spec"]["replicas"] == 1
        # the readiness waits list the release's Deployments
        (listed,) = await cluster.list("Deployment", target, {"release": "r"})
        assert listed["metadata"]["name"] == "sched"
        assert await cluster.scale(target, "sched", 0) is True
        assert isinstance(await cluster.list("Pod", target, {"release": "r"}), list)
        # the waits' watches open (a one-item list, then a watch, of each kind)
        changes = cluster.changes(
            [(kind, target) for kind in ("Namespace", "Deployment", "PushSecret", "ExternalSecret")]
        )
        try:
            deadline = time.monotonic() + 15
            while not changes.live:
                assert time.monotonic() < deadline, "a watch never opened as the chart's account"
                await asyncio.sleep(0.05)
        finally:
            changes.close()
        # anything else is refused: deleting a Deployment, reading a ReplicaSet
        with pytest.raises(StepFailure, match="403"):
            await cluster.delete("Deployment", target, "sched")
        with pytest.raises(StepFailure, match="403"):
            await cluster.get("ReplicaSet", target, "any")
        # outside airflow-*: the ClusterRole allows it, the admission policy refuses it
        with pytest.raises(StepFailure, match="only writes in airflow-"):
            await cluster.delete("Namespace", None, ns)
        with pytest.raises(StepFailure, match="only writes in airflow-"):
            await cluster.apply(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"x-{ns}"}}
            )
        with pytest.raises(StepFailure, match="403"):  # no Secret is readable elsewhere
            await cluster.get("Secret", ns, "any")
        with pytest.raises(StepFailure, match="403 Forbidden"):  # a Secret's body is not shown
            await cluster.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "planted", "namespace": ns},
                    "stringData": {"k": "v"},
                }
            )
        assert client.CoreV1Api(kube_api).read_namespace(ns).status.phase == "Active"
        assert await cluster.delete("Namespace", None, target) is True
    finally:
        if cluster is not None:
            await cluster.close()
        installed.close()  # the chart's ClusterRole and binding
        try:
            client.CoreV1Api(kube_api).delete_namespace(target)
        except client.ApiException as err:
            if err.status != 404:
                raise


def test_one_database_endpoint_value_feeds_the_pilots_check_and_the_agents_report(
    helm: Path,
) -> None:
    objs = render(helm, DATA, "--set", "pilot.database.endpoint=DB.example:5432")
    deployments = by_kind(objs, "Deployment")
    pilot, agent = env_of(deployments[f"{RELEASE}-pilot"]), env_of(deployments[f"{RELEASE}-agent"])
    assert pilot["JETBRIDGE_PILOT_DATABASE_ENDPOINT"]["value"] == "DB.example:5432"
    assert agent["JETBRIDGE_AGENT_DATABASE_ENDPOINT"]["value"] == "db.example:5432"
    bad = ["template", RELEASE, str(DATA), *REQUIRED[DATA], "--set", "pilot.database.endpoint=db"]
    proc = run_helm(helm, *bad, ok=False)  # host:port, or empty
    assert proc.returncode != 0 and "/pilot/database/endpoint" in proc.stderr
    v6 = render(helm, DATA, "--set", "pilot.database.endpoint=[fd00::1]:5432")
    v6_agent = env_of(by_kind(v6, "Deployment")[f"{RELEASE}-agent"])
    assert v6_agent["JETBRIDGE_AGENT_DATABASE_ENDPOINT"]["value"] == "[fd00::1]:5432"
