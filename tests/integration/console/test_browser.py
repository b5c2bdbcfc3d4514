"""Headless Debian Chromium drives the web UI of a real Console, Navigator and Kafka.

Done-when of the Console issue: log in, see the clusters, open the trigger dialog
(reasons show where they apply, the dropdown lists only valid targets), start a
Controlled failover, watch it progress live to SUCCEEDED, open its audit trail; the
board stays usable in a narrow window. Screenshots are kept as artifacts in
``$JETBRIDGE_ARTIFACTS_DIR/console`` (default ``.state/artifacts/console``).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx
from playwright.async_api import Dialog, Page, async_playwright, expect

from jetbridge.common.settings import REPO_ROOT
from jetbridge.navigator.domain.vocabulary import FlightKind, Health, StepStatus
from tests.integration.console.world import TOKENS, console_world
from tests.unit.navigator.builders import health

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = (
    Path(os.environ.get("JETBRIDGE_ARTIFACTS_DIR", REPO_ROOT / ".state" / "artifacts")) / "console"
)
DEPLOYMENTS = [f"orders-{i}" for i in range(1, 7)]


async def shot(page: Page, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    # Optional parts of a view must vanish, never print as "null"/"undefined".
    text = await page.locator("#view").inner_text()
    assert "null" not in text and "undefined" not in text, f"{name}: {text[:500]}"
    return path


async def test_operator_triggers_and_watches_a_failover_in_the_browser(
    postgres_dsn: str, kafka_bootstrap: str
) -> None:
    async with console_world(postgres_dsn, kafka_bootstrap, step_s=0.5) as world:
        await world.seed(
            "eu-east",
            "eu-west",
            DEPLOYMENTS,
            others={
                "legacy": {"failover_enabled": False, "external_secrets": False},
                "eu-south": {"health": Health.DEGRADED},
                "eu-gone": {"health": Health.UNREACHABLE},
            },
        )
        # An admin attests eu-gone is destroyed; the markup in it must stay text.
        attestation = "region flooded <b>INC-7</b>; nodes terminated"
        async with httpx.AsyncClient(base_url=world.url) as api:
            declared = await api.post(
                "/api/v1/clusters/eu-gone/declare-lost",
                json={"attestation": attestation, "confirm_lost": True},
                headers={"Authorization": f"Bearer {TOKENS['admin']}"},
            )
        assert declared.status_code == 202 and declared.json()["answered"], declared.text
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                await page.goto(world.url)

                # Log in (a wrong token first: it says so).
                await page.fill("#token", "not-a-real-token-at-all")
                await page.press("#token", "Enter")
                await expect(page.locator("#login-error")).to_contain_text("not valid")
                await page.fill("#token", TOKENS["operator"])
                await page.press("#token", "Enter")
                await expect(page.locator("#who")).to_have_text("operator@example.com · operator")

                # The board: every cluster, live health, the reasons where a trigger is off.
                for name in ("eu-east", "eu-west", "legacy", "eu-south"):
                    await expect(page.locator(f"#c-{name}")).to_be_visible()
                await expect(
                    page.locator(".cluster", has=page.locator("#c-eu-south")).locator(".badge")
                ).to_have_text("DEGRADED")
                legacy = page.locator("#trigger-legacy")
                await expect(legacy).to_be_disabled()
                blockers = page.locator("#blockers-legacy")
                await expect(blockers).to_contain_text(
                    "Failover is not enabled on source cluster legacy"
                )
                await expect(blockers).to_contain_text("External secrets are not enabled")
                await expect(page.locator("#trigger-eu-east")).to_be_enabled()
                gone = page.locator(".cluster", has=page.locator("#c-eu-gone"))
                await expect(gone.locator(".badge.LOST")).to_have_text("LOST")
                await expect(page.locator("#lost-eu-gone")).to_contain_text(
                    "Declared lost by admin@example.com at"
                )
                await expect(page.locator("#lost-eu-gone q")).to_have_text(attestation)
                await shot(page, "1-board")

                # The trigger dialog, opened from the keyboard.
                await page.focus("#trigger-eu-east")
                await page.keyboard.press("Enter")
                dialog = page.locator("#trigger")
                await expect(dialog).to_be_visible()
                options = await page.locator("#t-destination option").all_inner_texts()
                assert options == ["eu-west"], options  # legacy and eu-south are not valid targets
                unavailable = page.locator("#t-unavailable")
                await unavailable.locator("summary").click()
                await expect(unavailable).to_contain_text(
                    "eu-south: Destination cluster eu-south is not healthy"
                )
                await expect(unavailable).to_contain_text(
                    "legacy: Failover is not enabled on destination legacy"
                )
                await expect(unavailable).to_contain_text(
                    "External secrets are not enabled on destination cluster legacy"
                )
                await expect(page.locator("#mode-help-CONTROLLED")).to_contain_text(
                    "Drains each Deployment"
                )
                await expect(page.locator("#mode-help-FORCED")).to_contain_text(
                    "running tasks on the source are lost"
                )
                # Forced asks for an explicit confirmation; Controlled does not.
                await page.check("#mode-FORCED")
                await expect(page.locator("#t-confirm-row")).to_be_visible()
                await page.check("#mode-CONTROLLED")
                await expect(page.locator("#t-confirm-row")).to_be_hidden()
                await page.fill("#t-drain", "30")
                await page.click("#t-preview")
                await expect(page.locator("#t-plan")).to_contain_text("would accept")
                await expect(page.locator("#t-plan")).to_contain_text("6 mission(s)")
                await shot(page, "2-trigger-dialog")

                # Start it, and watch it move without reloading.
                await page.click("#t-start")
                await expect(page).to_have_url(re.compile(r"#/failovers/fo-"))
                request_id = page.url.rsplit("/", 1)[1]
                seen: set[str] = set()
                mid_shot = False
                deadline = time.monotonic() + 90
                status = page.locator("h1 .badge")
                while time.monotonic() < deadline:
                    text = (
                        await page.locator(".summary").inner_text()
                        if await page.locator(".summary").count()
                        else ""
                    )
                    seen.add(text)
                    if (
                        not mid_shot
                        and "running" in text
                        and not text.startswith("0%")
                        and "100%" not in text
                    ):
                        first = page.locator(".missions details").first
                        await first.locator("summary").click()
                        await shot(page, "3-failover-in-progress")
                        mid_shot = True
                    if await status.count() and (await status.inner_text()) == "SUCCEEDED":
                        break
                    await page.wait_for_timeout(100)
                await expect(status).to_have_text("SUCCEEDED")
                percents = {m.group(1) for t in seen if (m := re.match(r"([\d.]+)% done", t))}
                assert len(percents) >= 3, f"expected live progress, saw only {sorted(percents)}"
                assert mid_shot, "never caught the failover in progress"
                await expect(page.locator(".summary")).to_contain_text("100% done")
                await expect(page.locator(".summary")).to_contain_text("6 succeeded")
                first = page.locator(".missions details").first
                await first.evaluate("d => { d.open = true; }")
                await expect(first.locator(".steps li.SUCCEEDED").first).to_be_visible()
                await shot(page, "4-failover-succeeded")

                # The audit trail of that request, with the operator as the command's actor.
                await page.click("text=Audit trail")
                await expect(page).to_have_url(re.compile(r"#/events\?request_id="))
                rows = page.locator("table tbody tr")
                await expect(rows.filter(has_text="FailoverSucceeded")).to_have_count(1)
                command = rows.filter(has_text="RequestFailover")
                await expect(command).to_have_count(1)
                await expect(command).to_contain_text("operator@example.com")
                await expect(command).to_contain_text(request_id)
                await shot(page, "5-audit-trail", full_page=False)

                # History lists it; a narrow window keeps the board readable.
                await page.click("#nav a[data-view=failovers]")
                await expect(page.locator("table")).to_contain_text(request_id)
                await page.set_viewport_size({"width": 380, "height": 800})
                await page.click("#nav a[data-view=clusters]")
                await expect(page.locator("#c-eu-east")).to_be_visible()
                overflow = await page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 0, f"the narrow board scrolls sideways by {overflow}px"
                await shot(page, "6-narrow-board")
            finally:
                await browser.close()


async def test_a_controlled_failover_whose_source_dies_is_forced_from_its_page(
    postgres_dsn: str, kafka_bootstrap: str
) -> None:
    """The source goes silent mid-drain: the failover's page offers the Forced takeover
    (superseding), which moves what was left and ends the Controlled request CANCELLED."""
    moving = ["ledger-1", "ledger-2", "ledger-3"]
    async with console_world(postgres_dsn, kafka_bootstrap, step_s=0.2) as world:
        await world.seed("ap-east", "ap-west", moving)
        for d in moving[1:]:  # their drains start and never end: the source dies there
            world.planes.hang.add((d, "SOURCE", "DRAIN_TASKS"))
        async with world.client("operator") as api:
            started = await api.post(
                "/api/v1/failovers",
                json={
                    "source_cluster_id": "ap-east",
                    "destination_cluster_id": "ap-west",
                    "mode": "CONTROLLED",
                    "drain_timeout_seconds": 600,
                },
            )
        assert started.status_code == 202, started.text
        controlled = started.json()["subject_id"]
        navigator = world.navigator.service
        assert navigator is not None
        fleet = navigator.fleet

        def mission_status(request_id: str, deployment_id: str) -> str:
            found = [
                m.status.value
                for m in fleet.missions.values()
                if m.request_id == request_id and m.deployment_id == deployment_id
            ]
            return found[0] if found else "NONE"

        await world.until(
            "ledger-1 to move and the others to drain",
            lambda: (
                mission_status(controlled, "ledger-1") == "SUCCEEDED"
                and all(
                    f.step("DRAIN_TASKS").status is StepStatus.RUNNING
                    for f in fleet.flights.values()
                    if f.request_id == controlled
                    and f.deployment_id != "ledger-1"
                    and f.kind is FlightKind.SOURCE
                )
            ),
        )
        await world.publish([health("ap-east", Health.HEALTHY, Health.UNREACHABLE)])
        await world.until(
            "the console to see ap-east unreachable",
            lambda: world.runtime.model.fleet.clusters["ap-east"].health is Health.UNREACHABLE,
        )
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                dialogs: list[str] = []

                async def answer(dialog: Dialog) -> None:  # the refusal, the confirmation
                    dialogs.append(dialog.message)
                    await dialog.accept()

                page.on("dialog", answer)
                await page.goto(f"{world.url}/#/failovers/{controlled}")
                await page.fill("#token", TOKENS["operator"])
                await page.press("#token", "Enter")
                force = page.locator("#force-takeover")
                await expect(force).to_have_text("Force failover to ap-west")
                await expect(page.locator("#view")).to_contain_text("ap-east is unreachable")
                await shot(page, "7-controlled-source-unreachable")

                # The destination unreachable too: the dry run says why before anything
                # is asked, and no request is made.
                await world.publish([health("ap-west", Health.HEALTHY, Health.UNREACHABLE)])
                await world.until(
                    "the console to see ap-west unreachable",
                    lambda: (
                        world.runtime.model.fleet.clusters["ap-west"].health is Health.UNREACHABLE
                    ),
                )
                requests_before = set(fleet.requests)
                await force.click()
                await world.until("the refusal to be shown", lambda: len(dialogs) >= 1)
                assert dialogs[0].startswith("The Navigator would refuse this Forced failover")
                assert "ap-west" in dialogs[0]
                assert set(fleet.requests) == requests_before
                await expect(page).to_have_url(re.compile(re.escape(controlled)))

                await world.publish([health("ap-west", Health.UNREACHABLE, Health.HEALTHY)])
                await world.until(
                    "the console to see ap-west healthy",
                    lambda: world.runtime.model.fleet.clusters["ap-west"].health is Health.HEALTHY,
                )
                await force.click()
                await world.until("the confirmation to be asked", lambda: len(dialogs) >= 2)
                assert dialogs[1].startswith("Force the 2 Deployment(s) of ap-east to ap-west?")
                await expect(page).not_to_have_url(re.compile(re.escape(controlled)))
                forced = page.url.rsplit("/", 1)[1]
                await expect(page.locator("h1 .badge")).to_have_text("SUCCEEDED", timeout=60_000)
                await expect(page.locator(".summary")).to_contain_text("2 succeeded")
                await expect(page.locator(".reasons.warn")).to_contain_text(
                    f"takes over Controlled failover {controlled}"
                )
                await shot(page, "8-forced-takeover-succeeded")

                await page.goto(f"{world.url}/#/failovers/{controlled}")
                await expect(page.locator("h1 .badge")).to_have_text("CANCELLED")
                await expect(page.locator("#superseded-by")).to_contain_text(forced)
                await expect(page.locator(".summary")).to_contain_text("1 succeeded")
                await expect(page.locator(".summary")).to_contain_text("2 cancelled")
                await expect(page.locator("#force-takeover")).to_have_count(0)
                await shot(page, "9-controlled-taken-over")
            finally:
                await browser.close()
        assert {d: fleet.deployments[d].cluster_id for d in moving} == dict.fromkeys(
            moving, "ap-west"
        )
        assert fleet.requests[controlled].superseded_by == forced


async def test_the_audit_trail_says_where_the_consoles_window_of_events_begins(
    postgres_dsn: str, kafka_bootstrap: str
) -> None:
    """A Console keeps the newest events only: its audit page says that the older ones
    are gone from it, and where to read them, above the ones it still holds."""
    async with console_world(postgres_dsn, kafka_bootstrap, events_kept=5) as world:
        await world.seed("eu-east", "eu-west", DEPLOYMENTS[:2])
        model = world.runtime.model
        assert model.first_seq() > 1, "seeding a world is more than five events"
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                await page.goto(world.url)
                await page.fill("#token", TOKENS["viewer"])
                await page.press("#token", "Enter")
                await expect(page.locator("#who")).to_have_text("viewer@example.com · viewer")
                await page.goto(f"{world.url}/#/events")
                rows = page.locator("table tbody tr")
                dropped = rows.first
                await expect(dropped).to_have_class("dropped")
                await expect(dropped).to_contain_text("jetbridge audit timeline")
                said = re.search(
                    r"Events before #(\d+) are no longer held", await dropped.inner_text()
                )
                assert said, await dropped.inner_text()
                # (Not model.first_seq(): an event that came meanwhile moved the window.)
                await expect(rows.nth(1).locator("td").first).to_have_text(said.group(1))
                assert int(said.group(1)) > 1
                # A filter nothing matches: the note once, however many events come.
                await page.goto(f"{world.url}/#/events?request_id=no-such-request")
                await expect(page.locator("tr.dropped")).to_have_count(1)
                before = model.last_seq()
                await world.publish([health("eu-east", Health.HEALTHY, Health.DEGRADED)])
                await world.publish([health("eu-east", Health.DEGRADED, Health.HEALTHY)])
                await world.until("two more events", lambda: model.last_seq() >= before + 2)
                await page.wait_for_timeout(600)  # the view refreshes 150 ms after a change
                await expect(page.locator("tr.dropped")).to_have_count(1)
                await expect(page.locator("table tbody tr")).to_have_count(1)
                await shot(page, "7-audit-window", full_page=False)
            finally:
                await browser.close()
