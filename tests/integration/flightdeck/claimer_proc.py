"""A real claimer process for the SIGKILL test: claims one flight, records step 0,
reports the claim on stdout, then keeps "working" (renewing nothing) until killed.

Usage: python claimer_proc.py DSN OWNER LEASE_SECONDS
"""

from __future__ import annotations

import asyncio
import json
import sys

from jetbridge.flightdeck import Claim, OutboxEvent, open_flightdeck


async def main(dsn: str, owner: str, lease_seconds: float) -> None:
    store = await open_flightdeck(dsn)
    claims: list[Claim] = []
    while not claims:
        claims = await store.claim(owner, 1, lease_seconds)
        if not claims:
            await store.wait_for_work(0.2)
    (claim,) = claims
    await store.record_step_result(
        claim, 0, {"by": owner}, [OutboxEvent("jetbridge.flights", f"{owner}:0".encode())]
    )
    print(
        json.dumps(
            {"flight_id": claim.flight_id, "token": claim.fencing_token, "attempt": claim.attempt}
        ),
        flush=True,
    )
    await asyncio.sleep(3600)  # mid-flight: the test SIGKILLs us here


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
