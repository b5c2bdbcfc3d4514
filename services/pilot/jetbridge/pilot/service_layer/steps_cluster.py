"""Steps on the Kubernetes cluster: namespace, secrets, components, readiness, deletion.

Every step converges: it applies the whole desired state (or deletes it) and then
waits, so re-running it after a crash anywhere finds what is already there and
continues. Waits end at the attempt's deadline with a failure naming what was not
ready (an image, a secret and the store's message, a component).
"""

from __future__ import annotations

import base64
import logging
import secrets as random_secrets
from typing import Any

from jetbridge.flightdeck.models import Side
from jetbridge.pilot.domain import secrets as sec
from jetbridge.pilot.domain.airflow import (
    PULL_SECRET_SETTING,
    SCHEDULER,
    SECRETS_BINDING,
    Manifest,
    component_manifest,
    image_to_pull,
    namespace_manifests,
    newer_copy_epoch,
    registry_secret_copy,
    secrets_access_manifest,
)
from jetbridge.pilot.domain.steps import (
    ErrorCode,
    StepFailure,
    Succeeded,
    permanent,
    transient,
)
from jetbridge.pilot.service_layer.context import StepContext
from jetbridge.pilot.service_layer.ports import ObjectChanged

log = logging.getLogger(__name__)

PULL_ERRORS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName"})
PULL_CHECK_EVERY_S = 5.0
DELETE_READS = 5  # reads of a namespace that keeps changing before the attempt fails
# Reads of an object whose version keeps moving before a guarded write gives up (the
# attempt fails, transient): client-go's RetryOnConflict tries 5 times; status updates
# of a rolling Deployment move it too.
GUARDED_WRITE_TRIES = 10


async def create_namespace(ctx: StepContext) -> Succeeded:
    spec = ctx.spec
    live: Manifest | None = None

    async def active() -> tuple[bool, str]:
        nonlocal live
        live = await ctx.cluster.get("Namespace", None, spec.namespace)
        phase = ((live or {}).get("status") or {}).get("phase")
        return phase != "Terminating", f"namespace {spec.namespace} is still terminating"

    # A namespace left Terminating by an earlier deletion refuses new objects: wait.
    await ctx.poll(active, ErrorCode.NOT_READY, "namespace", watch=[("Namespace", spec.namespace)])
    config, epoch = ctx.config, ctx.flight.fencing_epoch
    namespace, *rest = namespace_manifests(spec, config.quota_cpu, config.quota_memory, epoch)
    await _write_unless_taken_over(ctx, namespace, live)  # never lowers its epoch
    for manifest in rest:
        await ctx.cluster.apply(manifest)
    if config.secrets_role:  # the next steps read and write this namespace's Secrets
        access = secrets_access_manifest(spec, config.secrets_role, config.service_account)
        await ctx.cluster.apply(access)

        async def granted() -> tuple[bool, str]:
            ok = await ctx.cluster.may("get", "Secret", spec.namespace)
            return ok, f"RoleBinding {SECRETS_BINDING} not yet in force in {spec.namespace}"

        await ctx.poll(granted, ErrorCode.NOT_READY, "access to the namespace's Secrets")
    if config.image_pull_secret:
        await _copy_registry_credentials(ctx)
    return Succeeded({"namespace": spec.namespace})


async def _copy_registry_credentials(ctx: StepContext) -> None:
    """The cluster's registry credentials, copied into the namespace for its pods.

    Why a copy: a pod can only name a pull Secret of its own namespace. Made once (a
    create: the Pilot may not overwrite Secrets), so a copy keeps the credentials of the
    day its namespace was made; docs/operations.md says how to rotate them."""
    source_name = ctx.config.image_pull_secret
    namespace, _, name = source_name.partition("/")
    source = await ctx.cluster.get("Secret", namespace, name)
    if source is None:
        raise transient(
            ErrorCode.REGISTRY_CREDENTIALS_MISSING,
            f"no Secret {source_name} ({PULL_SECRET_SETTING}) to copy into "
            f"{ctx.spec.namespace}: create it with this cluster's credentials for the "
            "installation's registry (kubernetes.io/dockerconfigjson)",
        )
    await ctx.cluster.create(registry_secret_copy(ctx.spec, source, source_name))


async def apply_external_secrets(ctx: StepContext) -> Succeeded:
    """Home cluster (SOURCE side of a provisioning flight): Secrets + PushSecrets.
    Any other cluster (DESTINATION): ExternalSecrets pulling them. Then wait Ready."""
    spec, store = ctx.spec, ctx.config.secret_store
    if ctx.flight.side is Side.SOURCE:
        if ctx.config.customer_users:  # the customer's passwords first, from the store
            kinds = tuple(sec.login_kind(side) for side in sec.SIDES)
            logins = [sec.external_secret_manifest(spec, k, store) for k in kinds]
            keys = " and ".join(sec.remote_key(spec, k) for k in kinds)
            await _apply_and_wait(ctx, logins, f"the customer's login passwords ({keys})")
        await _ensure_source_secrets(ctx)
        objects = [sec.push_secret_manifest(spec, k, store) for k in sec.pushed_kinds()]
    else:
        # Controlled: the source stops only after this step. A database still read-only
        # (the replica not promoted yet) would fail the fence after the drain and leave
        # the Deployment down on both clusters; found here, the source runs on.
        await ctx.ports.fencer.check_writable()
        kinds = sec.pulled_kinds(ctx.db_side)
        objects = [sec.external_secret_manifest(spec, k, store) for k in kinds]
    await _apply_and_wait(ctx, objects, f"secrets through ClusterSecretStore {store}")
    return Succeeded({"secrets": [m["metadata"]["name"] for m in objects]})


async def _apply_and_wait(ctx: StepContext, objects: list[Manifest], what: str) -> None:
    """Apply External Secrets objects, then poll until each reports Ready."""
    for manifest in objects:
        await ctx.cluster.apply(manifest)

    pending = list(objects)  # one found Ready is not asked again: a GET each per round

    async def ready() -> tuple[bool, str]:
        waiting = []
        for manifest in list(pending):
            meta = manifest["metadata"]
            live = await ctx.cluster.get(manifest["kind"], meta["namespace"], meta["name"])
            ok, why = sec.ready_condition(live or {})
            if ok:
                pending.remove(manifest)
            else:
                waiting.append(f"{manifest['kind']} {meta['name']} not Ready ({why})")
        return not waiting, "; ".join(waiting)

    watched = {(m["kind"], m["metadata"]["namespace"]) for m in objects}
    await ctx.poll(ready, ErrorCode.SECRETS_NOT_READY, what, watch=watched)


async def _ensure_source_secrets(ctx: StepContext) -> None:
    """Create the Airflow Secrets once; a re-run keeps the values already there.

    Created only if absent (not applied): a Pilot that stalled past its lease and a
    newer claimant may both find a Secret missing, and the later write must not
    replace the key the first already pushed and provisioned the database with."""
    spec = ctx.spec
    for kind in sec.pushed_kinds():
        if await ctx.cluster.get("Secret", spec.namespace, spec.secret_name(kind)) is not None:
            continue
        values: dict[str, str]
        if kind == sec.FERNET:
            values = {
                "fernet-key": base64.urlsafe_b64encode(random_secrets.token_bytes(32)).decode()
            }
        elif kind == sec.ENV:
            values = dict(spec.env) or {"AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        else:
            side = kind.rsplit("-", 1)[1]
            password = (
                await _customer_password(ctx, side)
                if ctx.config.customer_users
                else random_secrets.token_urlsafe(24)
            )
            url = ctx.ports.fencer.connection_url(spec.deployment_id, side, password)
            values = {"password": password, "connection": url}
        await ctx.cluster.create(sec.secret_manifest(spec, kind, values))


async def _password_in(ctx: StepContext, kind: str) -> str | None:
    """The ``password`` key of this Deployment's Secret of ``kind`` (None: none yet)."""
    secret = await ctx.cluster.get("Secret", ctx.spec.namespace, ctx.spec.secret_name(kind))
    data: dict[str, Any] = (secret or {}).get("data") or {}
    return base64.b64decode(data["password"]).decode() if "password" in data else None


async def _customer_password(ctx: StepContext, side: str) -> str:
    """The password the customer gave one side's login role (pulled just before)."""
    password = await _password_in(ctx, sec.login_kind(side))
    if password is None:
        key = sec.remote_key(ctx.spec, sec.login_kind(side))
        raise permanent(
            ErrorCode.SECRETS_NOT_READY,
            f"the store's {key} has no 'password' key: write the login role's password "
            "there as a JSON object with a password key (customer-managed users)",
        )
    return password


async def read_passwords(ctx: StepContext) -> dict[str, str]:
    """Both sides' database passwords from this cluster's Secrets (provisioning)."""
    out: dict[str, str] = {}
    for side in sec.SIDES:
        password = await _password_in(ctx, sec.metadata_kind(side))
        if password is None:
            raise transient(ErrorCode.SECRETS_NOT_READY, f"no database credentials for side {side}")
        out[side.upper()] = password
    return out


async def upsert_deployment(ctx: StepContext) -> Succeeded:
    spec, epoch = ctx.spec, ctx.flight.fencing_epoch
    image = image_to_pull(spec.image)
    # A newer mission stamps the namespace first (CREATE_NAMESPACE): refused here, a late
    # upsert makes no component in it, not even one the newer mission has yet to write.
    namespace = await ctx.cluster.get("Namespace", None, spec.namespace)
    _refuse_if_newer(ctx, namespace, f"Namespace {spec.namespace}")
    live = await _release_deployments(ctx)
    pulls_with_secret = bool(ctx.config.image_pull_secret)
    for component in spec.components:
        manifest = component_manifest(
            spec, component, image, ctx.db_side, epoch=epoch, pull_secret=pulls_with_secret
        )
        await _write_unless_taken_over(ctx, manifest, live.get(manifest["metadata"]["name"]))
    await _wait_components_ready(ctx, image)
    return Succeeded({"image": image, "components": [c.name for c in spec.components]})


async def _write_unless_taken_over(
    ctx: StepContext, manifest: Manifest, live: Manifest | None
) -> None:
    """Write ``manifest`` (stamped with this flight's epoch) unless a newer mission's
    flight wrote the object since: the Kubernetes side of the fencing epoch.

    Why: a flight of a cancelled mission (a Controlled one taken over by a Forced
    failover) may still run a step on the destination, late; its upsert would put back
    the image and configuration planned for it over the newer mission's. The Navigator
    gives the newer mission a higher epoch (``deployment.next_fencing_epoch``), and the
    write is conditional on the version read (``live``), so a newer write between the
    read and this one is seen on the next read, never overwritten. A missing object is
    made with ``create``, which refuses one made meanwhile. A conflict (the version moved:
    another writer, or a controller's status update) reads the object again.
    """
    kind, meta = manifest["kind"], manifest["metadata"]
    for attempt in range(GUARDED_WRITE_TRIES):
        if attempt:
            live = await ctx.cluster.get(kind, meta.get("namespace"), meta["name"])
        _refuse_if_newer(ctx, live, _where(manifest))
        try:
            if live is None:
                if await ctx.cluster.create(manifest, for_apply=True):
                    return
            else:
                version = (live.get("metadata") or {}).get("resourceVersion")
                await ctx.cluster.apply(manifest, if_version=version)
                return
        except ObjectChanged:
            continue
    raise transient(
        ErrorCode.NOT_READY,
        f"{_where(manifest)} changed between every read and write ({GUARDED_WRITE_TRIES} tries)",
    )


def _refuse_if_newer(ctx: StepContext, live: Manifest | None, what: str) -> None:
    """``TAKEN_OVER`` (permanent) if a newer mission's epoch is on ``live``."""
    epoch = ctx.flight.fencing_epoch
    if (newer := newer_copy_epoch(live, epoch)) is not None:
        raise permanent(
            ErrorCode.TAKEN_OVER,
            f"{what} was written by a newer mission (epoch {newer}; this flight's is "
            f"{epoch}): left as it is",
        )


def _where(manifest: Manifest) -> str:
    meta = manifest["metadata"]
    namespace = meta.get("namespace")
    return f"{manifest['kind']} {namespace + '/' if namespace else ''}{meta['name']}"


async def wait_ready(ctx: StepContext) -> Succeeded:
    await _wait_components_ready(ctx, None)
    return Succeeded({"ready": [c.name for c in ctx.spec.components]})


async def _wait_components_ready(ctx: StepContext, image: str | None) -> None:
    spec = ctx.spec
    clock = ctx.ports.clock
    pull_problem, next_pull_check = "", 0.0

    async def ready() -> tuple[bool, str]:
        nonlocal pull_problem, next_pull_check
        waiting = []
        # One LIST of the release's Deployments per round, not a GET per component: a
        # wait polls twice a second, and on a real cluster each request costs the Pilot
        # and the API server alike.
        by_name = await _release_deployments(ctx)
        for c in spec.components:
            live = by_name.get(spec.deployment_name(c.name))
            if live is None:
                waiting.append(f"{c.name} missing")
            elif not deployment_ready(live):
                waiting.append(f"{c.name} not ready")
        # Pull errors only name the failure at the deadline: the pods are listed every
        # few seconds, not every round (and once more at the deadline, below).
        if waiting and clock.monotonic() >= next_pull_check:
            pull_problem = await _pull_errors(ctx) or pull_problem
            next_pull_check = clock.monotonic() + PULL_CHECK_EVERY_S
        return not waiting, ", ".join(waiting)

    try:
        await ctx.poll(
            ready,
            ErrorCode.NOT_READY,
            f"Deployment {spec.deployment_id}",
            watch=[("Deployment", spec.namespace)],
        )
    except StepFailure as failure:
        pull_problem = pull_problem or await _pull_errors(ctx)
        if pull_problem:
            shown = image or "the Deployment's image"
            raise transient(
                ErrorCode.IMAGE_PULL_FAILED,
                f"image {shown} cannot be pulled on {ctx.cluster.name}: {pull_problem}",
            ) from failure
        if image is not None:
            raise transient(ErrorCode.NOT_READY, f"{failure.message} (image {image})") from failure
        raise


async def _release_deployments(ctx: StepContext) -> dict[str, Manifest]:
    """The release's Kubernetes Deployments by name, from one LIST."""
    spec = ctx.spec
    found = await ctx.cluster.list("Deployment", spec.namespace, {"release": spec.release})
    return {(d.get("metadata") or {}).get("name", ""): d for d in found}


async def _pull_errors(ctx: StepContext) -> str:
    for pod in await ctx.cluster.list("Pod", ctx.spec.namespace, {"release": ctx.spec.release}):
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in PULL_ERRORS:
                return f"{waiting['reason']}: {waiting.get('message') or status.get('image')}"
    return ""


def deployment_ready(live: Manifest) -> bool:
    want = int((live.get("spec") or {}).get("replicas", 1))
    status = live.get("status") or {}
    generation = int((live.get("metadata") or {}).get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    return (
        observed >= generation
        and int(status.get("readyReplicas") or 0) >= want
        and (want > 0 or int(status.get("replicas") or 0) == 0)
    )


async def stop_scheduling(ctx: StepContext) -> Succeeded:
    spec = ctx.spec
    name = spec.deployment_name(SCHEDULER)
    if not await ctx.cluster.scale(spec.namespace, name, 0):
        return Succeeded({"scheduler": "absent"})

    async def stopped() -> tuple[bool, str]:
        live = await ctx.cluster.get("Deployment", spec.namespace, name)
        pods = int(((live or {}).get("status") or {}).get("replicas") or 0)
        return pods == 0, f"{pods} scheduler pod(s) still running"

    await ctx.poll(
        stopped, ErrorCode.NOT_READY, "stop scheduling", watch=[("Deployment", spec.namespace)]
    )
    return Succeeded({"scheduler": "stopped"})


async def scale_down_rest(ctx: StepContext) -> None:
    """After the drain: workers first (they finish on SIGTERM), then the rest."""
    spec = ctx.spec
    order = sorted(spec.components, key=lambda c: c.name != "worker")
    for c in order:
        await ctx.cluster.scale(spec.namespace, spec.deployment_name(c.name), 0)


async def delete_deployment(ctx: StepContext) -> Succeeded:
    """Delete the namespace, unless a newer mission has taken it over since.

    A Forced failover's clean-up waits for its source to come back; if the Deployment
    was failed back onto it meanwhile (the Navigator refuses that, this is defence in
    depth), the namespace now holds the newer copy and must stay. The DELETE names the
    version of the namespace that was checked: a takeover between the read and the
    delete changes that version, the apiserver refuses, and the namespace is read again.
    """
    spec = ctx.spec
    existed = False
    for _ in range(DELETE_READS):
        live = await ctx.cluster.get("Namespace", None, spec.namespace)
        if live is None:
            break
        if (newer := newer_copy_epoch(live, ctx.flight.fencing_epoch)) is not None:
            log.warning(
                "kept namespace %s: a mission at epoch %d took it over (this clean-up is %d)",
                spec.namespace,
                newer,
                ctx.flight.fencing_epoch,
                extra={"flight_id": ctx.flight.flight_id},
            )
            return Succeeded({"namespace": spec.namespace, "deleted": False, "newer_epoch": newer})
        meta = live.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            existed = True  # an earlier attempt started it; nothing newer can be in it
            break
        try:
            existed = await ctx.cluster.delete(
                "Namespace", None, spec.namespace, if_version=meta.get("resourceVersion")
            )
            break
        except ObjectChanged:
            continue  # written since it was read: check it again
    else:
        raise transient(
            ErrorCode.NOT_READY,
            f"namespace {spec.namespace} changed between every read and delete "
            f"({DELETE_READS} tries)",
        )

    async def gone() -> tuple[bool, str]:
        ns = await ctx.cluster.get("Namespace", None, spec.namespace)
        return ns is None, f"namespace {spec.namespace} still terminating"

    await ctx.poll(gone, ErrorCode.NOT_READY, "delete", watch=[("Namespace", spec.namespace)])
    return Succeeded({"namespace": spec.namespace, "deleted": existed})
