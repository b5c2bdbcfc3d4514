"""``jetbridge``: the Console from a terminal or a script.

    jetbridge clusters [CLUSTER]            health, eligibility, valid destinations
    jetbridge deployments CLUSTER           Deployments and their failover readiness
    jetbridge failover plan  --from A --to B [--mode controlled|forced]
    jetbridge failover start --from A --to B [--mode ...] [--confirm-forced] [--watch]
    jetbridge failover watch|show|cancel REQUEST_ID
    jetbridge failover list [--status S] [--cluster C]
    jetbridge events tail [--request R] [--deployment D] [--cluster C] [--type T] [-f]
    jetbridge audit verify|timeline|replay|export   the ledger itself (no console needed)

``--json`` prints machine-readable output (one JSON document, or JSON lines for
``watch`` and ``events tail -f``). The console is ``--url`` / ``JETBRIDGE_CONSOLE_URL``,
the token ``--token`` / ``JETBRIDGE_CONSOLE_TOKEN``. Exit codes: see ``codes.py``
(0 ok/succeeded, 1 failed, 2 usage, 3 refused/rejected, 4 auth, 5 not found,
6 console unavailable, 7 cancelled, 8 invalid input, 9 ledger broken, 130 interrupted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from jetbridge.console.entrypoints.cli.client import CliError, ConsoleClient
from jetbridge.console.entrypoints.cli.codes import Exit
from jetbridge.console.entrypoints.cli.watch import watch

out = Console()
err = Console(stderr=True)
Command = Callable[[ConsoleClient, argparse.Namespace], Awaitable[Exit]]


def emit(args: argparse.Namespace, data: Any, render: Callable[[Any], None]) -> None:
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        render(data)


def reasons(items: list[dict[str, str]], style: str = "red") -> None:
    for r in items:
        out.print(f"  [{style}]{r['code']}[/{style}] {r['message']}")


# --- clusters and deployments ---------------------------------------------------------
async def clusters(c: ConsoleClient, args: argparse.Namespace) -> Exit:
    if args.cluster:
        found = await c.get(f"/clusters/{args.cluster}")
        dest = await c.get(f"/clusters/{args.cluster}/destinations")
        emit(args, {**found, "destinations": dest}, _render_cluster)
        return Exit.OK
    found = await c.get("/clusters")

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("cluster", "health", "failover", "deployments", "can trigger", "destinations")
        for x in rows:
            table.add_row(
                x["cluster_id"],
                x["health"],
                "enabled" if x["failover_enabled"] else "disabled",
                str(x["deployment_count"]),
                "yes"
                if x["can_trigger_failover"]
                else f"no ({len(x['trigger_blockers'])} reasons)",
                ", ".join(x["valid_destinations"]) or "-",
            )
        out.print(table)

    emit(args, found, render)
    return Exit.OK


def _render_cluster(x: dict[str, Any]) -> None:
    out.print(
        f"[bold]{x['cluster_id']}[/bold] {x['health']}  failover "
        f"{'enabled' if x['failover_enabled'] else 'disabled'}"
    )
    for key, value in x["facts"].items():
        out.print(f"  {key}: {value}")
    if x["can_trigger_failover"]:
        out.print("[green]Failover can be triggered.[/green]")
    else:
        out.print("[red]Failover cannot be triggered:[/red]")
        reasons(x["trigger_blockers"])
    for option in x["destinations"]["options"]:
        mark = "[green]valid[/green]" if option["valid"] else "[red]not valid[/red]"
        out.print(f"  destination {option['cluster_id']}: {mark}")
        reasons(option["reasons"])


async def deployments(c: ConsoleClient, args: argparse.Namespace) -> Exit:
    found = await c.get(f"/clusters/{args.cluster}/deployments")

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("deployment", "priority", "mechanism", "ready", "why not")
        for d in rows:
            table.add_row(
                d["deployment_id"],
                str(d["priority"]),
                d["deploy_mechanism"],
                "yes" if d["failover_ready"] else "no",
                "; ".join(r["message"] for r in d["reasons"]),
            )
        out.print(table)

    emit(args, found, render)
    return Exit.OK


# --- failovers ------------------------------------------------------------------------
def _body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source_cluster_id": args.source,
        "destination_cluster_id": args.destination,
        "mode": args.mode.upper(),
        "drain_timeout_seconds": args.drain_timeout,
        "exclude_ineligible": args.exclude_ineligible,
    }
    if getattr(args, "confirm_forced", False):
        body["confirm_forced"] = True
    if getattr(args, "request_id", None):
        body["request_id"] = args.request_id
    return body


async def plan(c: ConsoleClient, args: argparse.Namespace) -> Exit:
    found = await c.post("/failovers/plan", _body(args))

    def render(p: dict[str, Any]) -> None:
        verdict = (
            "[green]would be accepted[/green]"
            if p["would_be_accepted"]
            else "[red]would be refused[/red]"
        )
        out.print(
            f"{p['source_cluster_id']} -> {p['destination_cluster_id']} {p['mode']}: {verdict}"
        )
        reasons(p["blocking_reasons"])
        reasons(p["warnings"], "yellow")
        out.print(
            f"{len(p['missions'])} mission(s): "
            + ", ".join(m["deployment_id"] for m in p["missions"])
        )

    emit(args, found, render)
    return Exit.OK if found["would_be_accepted"] else Exit.REFUSED


async def start(c: ConsoleClient, args: argparse.Namespace) -> Exit:
    answer = await c.post("/failovers", _body(args))
    refused = answer["refusal"] is not None or answer["status"] == "REJECTED"

    def render(a: dict[str, Any]) -> None:
        out.print(f"failover {a['subject_id']}: {a['status'] or 'sent, no answer yet'}")
        if a["refusal"]:
            reasons([a["refusal"]])
        reasons(a["rejection_reasons"])

    emit(args, answer, render)
    if refused:
        return Exit.REFUSED
    if args.watch:
        return await watch(c, answer["subject_id"], as_json=args.json)
    return Exit.OK


async def watch_cmd(c: ConsoleClient, args: argparse.Namespace) -> Exit:
    return await watch(c, args.request_id, as_json=args.json)


async def show(c: ConsoleClient, args: argparse.Namespace) -> Exit:
    found = await c.get(f"/failovers/{args.request_id}")

    def render(d: dict[str, Any]) -> None:
        p = d["progress"]
        out.print(
            f"[bold]{d['request_id']}[/bold] {d['status']} {d['source_cluster_id']} -> "
            f"{d['destination_cluster_id']} {d['mode']} by {d['requested_by']} ({p['percent']}%)"
        )
        reasons(d["rejection_reasons"] + d["failure_reasons"])
        if d.get("superseded_by"):
            out.print(f"taken over by Forced failover {d['superseded_by']}")
        if d.get("can_force"):
            out.print(
                f"{d['source_cluster_id']} is unreachable: `failover start --from "
                f"{d['source_cluster_id']} --to {d['destination_cluster_id']} --mode forced "
                "--confirm-forced` takes this Controlled failover over"
            )
        table = Table("deployment", "status", "current step", "duration", "reason")
        for m in d["missions"]:
            duration = f"{m['duration_ms'] / 1000:.1f}s" if m["duration_ms"] is not None else ""
            table.add_row(
                m["deployment_id"], m["status"], m["current_step"] or "", duration, m["reason"]
            )
        out.print(table)

    emit(args, found, render)
    return Exit.OK


async def cancel(c: ConsoleClient, args: argparse.Namespace) -> Exit:
    answer = await c.post(f"/failovers/{args.request_id}/cancel")
    emit(args, answer, lambda a: out.print(f"cancel of {a['subject_id']} sent: {a['status']}"))
    return Exit.REFUSED if answer["refusal"] else Exit.OK


async def register_cluster(c: ConsoleClient, args: argparse.Namespace) -> Exit:
    body = {
        "cluster_id": args.cluster,
        "endpoint": args.endpoint,
        "name": args.name,
        "certificate_identity": args.identity,
        "failover_enabled": args.failover_enabled,
    }
    answer = await c.post("/clusters", body)
    return _cluster_answer(args, answer, "registering", f"registered: {args.endpoint}")


async def deregister_cluster(c: ConsoleClient, args: argparse.Namespace) -> Exit:
    answer = await c.call("DELETE", f"/clusters/{args.cluster}")
    return _cluster_answer(args, answer, "deregistering", "deregistered")


async def declare_cluster_lost(c: ConsoleClient, args: argparse.Namespace) -> Exit:
    body = {"attestation": args.attestation, "confirm_lost": args.confirm_lost}
    answer = await c.call("POST", f"/clusters/{args.cluster}/declare-lost", json=body)
    return _cluster_answer(args, answer, "declaring", "declared lost and deregistered")


def _cluster_answer(args: argparse.Namespace, answer: Any, doing: str, done: str) -> Exit:
    """The Navigator's answer to a cluster command: refused (exit 3), done, or not yet."""

    def render(a: dict[str, Any]) -> None:
        if a["refusal"]:
            out.print(f"{doing} {a['subject_id']} refused: {a['refusal']['message']}")
        else:
            out.print(f"{a['subject_id']} {done if a['answered'] else 'sent (no answer yet)'}")

    emit(args, answer, render)
    return Exit.REFUSED if answer["refusal"] else Exit.OK


async def enable_failover(c: ConsoleClient, args: argparse.Namespace) -> Exit:
    answer = await c.post(f"/clusters/{args.cluster}/enable-failover")
    emit(args, answer, lambda a: out.print(f"enable failover on {a['subject_id']} sent"))
    return Exit.OK


async def list_failovers(c: ConsoleClient, args: argparse.Namespace) -> Exit:
    found = await c.get("/failovers", status=args.status, cluster_id=args.cluster, limit=args.limit)

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("request", "route", "mode", "status", "progress", "by")
        for r in rows:
            table.add_row(
                r["request_id"],
                f"{r['source_cluster_id']} -> {r['destination_cluster_id']}",
                r["mode"],
                r["status"],
                f"{r['progress']['percent']}%",
                r["requested_by"],
            )
        out.print(table)

    emit(args, found, render)
    return Exit.OK


# --- events ---------------------------------------------------------------------------
async def tail(c: ConsoleClient, args: argparse.Namespace) -> Exit:
    query = {
        "request_id": args.request,
        "deployment_id": args.deployment,
        "cluster_id": args.cluster,
        "type": args.type or None,
        "since": args.since,
        "until": args.until,
    }
    page = await c.get("/events", **query, order="desc", limit=args.lines)
    events = list(reversed(page["events"]))
    after = max((e["seq"] for e in events), default=0)
    if not args.follow:

        def render(rows: list[dict[str, Any]]) -> None:
            for e in rows:
                _print_event(e)

        emit(args, events, render)
        return Exit.OK
    for e in events:
        _print_event_line(args, e)
    async for _ in c.changes(request_id=args.request, cluster_id=args.cluster, after=after):
        page = await c.get("/events", **query, after=after, limit=1000)
        if page["first_seq"] > after + 1:
            sys.stderr.write(
                f"events {after + 1}..{page['first_seq'] - 1} are no longer held by the "
                "Console (it keeps the newest); `jetbridge audit timeline` reads the ledger\n"
            )
        for e in page["events"]:
            _print_event_line(args, e)
        after = max(page["last_seq"], page["first_seq"] - 1)
    return Exit.OK


def _print_event_line(args: argparse.Namespace, e: dict[str, Any]) -> None:
    if args.json:
        sys.stdout.write(json.dumps(e) + "\n")
        sys.stdout.flush()
    else:
        _print_event(e)


def _print_event(e: dict[str, Any]) -> None:
    actor = f" by {e['actor']}" if e["actor"] else ""
    out.print(f"{e['seq']:>7} {e['event_type']:<28} {e['aggregate_id']}{actor}", highlight=False)


# --- arguments ------------------------------------------------------------------------
def _failover_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="source", required=True, help="source cluster")
    p.add_argument("--to", dest="destination", required=True, help="destination cluster")
    p.add_argument("--mode", choices=["controlled", "forced"], default="controlled", type=str.lower)
    p.add_argument("--drain-timeout", type=int, default=600, help="seconds (controlled)")
    p.add_argument(
        "--exclude-ineligible",
        action="store_true",
        help="leave Deployments that cannot fail over behind (the request then ends FAILED)",
    )


def _cluster_admin_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The admin's: register a cluster, switch failover on."""
    p = sub.add_parser(
        "register-cluster",
        parents=[common],
        help="admin: register a data plane, or give it a new endpoint, name or identity",
    )
    p.add_argument("cluster")
    p.add_argument("--endpoint", required=True, help="host:port of its agent")
    p.add_argument("--name", default="", help="shown in the UI (default: the id)")
    p.add_argument(
        "--identity", default="", help="its agent's SAN URI (default spiffe://jetbridge/cluster/ID)"
    )
    p.add_argument(
        "--failover-enabled", action="store_true", help="installed with failover on (new only)"
    )
    p.set_defaults(run=register_cluster)
    p = sub.add_parser(
        "deregister-cluster",
        parents=[common],
        help="admin: take a data plane off (refused while anything still needs it)",
    )
    p.add_argument("cluster")
    p.set_defaults(run=deregister_cluster)
    p = sub.add_parser(
        "declare-cluster-lost",
        parents=[common],
        help="admin: attest an unreachable data plane is gone for good (gives up what waits"
        " for it, then deregisters it)",
    )
    p.add_argument("cluster")
    p.add_argument("--attestation", required=True, help="why you are sure (kept in the audit)")
    p.add_argument(
        "--confirm-lost",
        action="store_true",
        help="required: copies left there stop holding its database side",
    )
    p.set_defaults(run=declare_cluster_lost)
    p = sub.add_parser(
        "enable-failover", parents=[common], help="admin: put a cluster under failover management"
    )
    p.add_argument("cluster")
    p.set_defaults(run=enable_failover)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="jetbridge", description="Jetbridge console CLI.")
    root.add_argument(
        "--url", default=os.environ.get("JETBRIDGE_CONSOLE_URL", "http://127.0.0.1:8470")
    )
    root.add_argument("--token", default=os.environ.get("JETBRIDGE_CONSOLE_TOKEN", ""))
    root.add_argument("--json", action="store_true", help="machine-readable output")
    sub = root.add_subparsers(dest="command", required=True)
    # ``--json`` is accepted after the subcommand too (``jetbridge clusters --json``).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS)

    p = sub.add_parser("clusters", parents=[common], help="clusters, health and eligibility")
    p.add_argument("cluster", nargs="?")
    p.set_defaults(run=clusters)
    _cluster_admin_commands(sub, common)
    p = sub.add_parser(
        "deployments", parents=[common], help="Deployments of a cluster with readiness"
    )
    p.add_argument("cluster")
    p.set_defaults(run=deployments)

    fo = sub.add_parser(
        "failover", parents=[common], help="plan, start, watch, cancel failovers"
    ).add_subparsers(dest="action", required=True)
    p = fo.add_parser(
        "plan", parents=[common], help="dry run: what would happen, every blocking reason"
    )
    _failover_args(p)
    p.set_defaults(run=plan)
    p = fo.add_parser("start", parents=[common], help="start a failover")
    _failover_args(p)
    p.add_argument("--confirm-forced", action="store_true", help="required with --mode forced")
    p.add_argument("--request-id", help="your own id: retrying with it starts one failover")
    p.add_argument("--watch", action="store_true", help="then watch it to the end")
    p.set_defaults(run=start)
    for name, run, text in (
        ("watch", watch_cmd, "live progress until it ends (exit code tells how)"),
        ("show", show, "missions, steps, reasons"),
        ("cancel", cancel, "cancel a running failover"),
    ):
        p = fo.add_parser(name, parents=[common], help=text)
        p.add_argument("request_id")
        p.set_defaults(run=run)
    p = fo.add_parser("list", parents=[common], help="failover history")
    p.add_argument("--status")
    p.add_argument("--cluster")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(run=list_failovers)

    ev = sub.add_parser("events", parents=[common], help="the audit log").add_subparsers(
        dest="action", required=True
    )
    p = ev.add_parser("tail", parents=[common], help="the latest events; -f follows")
    p.add_argument("--request")
    p.add_argument("--deployment")
    p.add_argument("--cluster")
    p.add_argument("--type", action="append", help="event type (repeatable)")
    p.add_argument("--since", help="ISO 8601")
    p.add_argument("--until", help="ISO 8601")
    p.add_argument("-n", "--lines", type=int, default=50)
    p.add_argument("-f", "--follow", action="store_true")
    p.set_defaults(run=tail)
    p = sub.add_parser("audit", help="verify, timeline, replay, export the ledger (Kafka)")
    p.add_argument("rest", nargs=argparse.REMAINDER)  # handled before parsing: see main()
    return root


async def run(argv: list[str] | None = None) -> Exit:
    args = parser().parse_args(argv)
    async with ConsoleClient(args.url, args.token) as client:
        try:
            result: Exit = await args.run(client, args)
            return result
        except CliError as error:
            if args.json:
                sys.stdout.write(
                    json.dumps({"error": str(error), "exit": int(error.code), "detail": error.body})
                    + "\n"
                )
            else:
                err.print(f"[red]error[/red]: {error}")
                if isinstance(error.body, dict):
                    for p in error.body.get("problems", []):
                        err.print(f"  {p['field']}: {p['message']} ({p['rule']})")
                    for r in error.body.get("reasons", []):
                        err.print(f"  {r['code']}: {r['message']}")
            return error.code


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["audit"]:  # reads Kafka directly: no console client, no token
        from jetbridge.navigator.audit.cli import main as audit  # noqa: PLC0415 (only when used)

        sys.exit(audit(argv[1:]))
    try:
        code = asyncio.run(run(argv))
    except KeyboardInterrupt:
        code = Exit.INTERRUPTED
    sys.exit(int(code))
