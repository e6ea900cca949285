"""From the last signature to the sealed, stored PDF, through the real signing flow.

    .venv/bin/python bench/signing.py [--rounds 10] [--workers 2] [--database-url URL]

A fresh SQLite database in a temporary folder (or the PostgreSQL database given) and the
app in this process with its lifespan running, driven over ASGI by httpx as the API tests
do: a case in mediation, a debt agreement drafted and sent for signing, both parties'
drawn signatures, then the mediator's signature, which is the last one. Its request is
timed: the signature's checks and rows, the PDF rendered in a worker, sealed (PAdES, in a
worker), stored in the content store and recorded, the agreement made effective and the
case moved to agreed, committed. Printed: median, 90th percentile and worst of --rounds.

A benchmark, not a test: it prints figures; it fails (exit 1) only when it could not
measure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


async def main(args: argparse.Namespace) -> int:
    import httpx

    from service.app import create_app
    from service.migrate import upgrade
    from service.settings import PdfSettings
    from tests.agreements.helpers import out_for_signing, sign
    from tests.conftest import Factory, make_settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-signing-"))
    url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = make_settings(url, tmp, pdf=PdfSettings(workers=args.workers, prestart=True))
    app = create_app(settings)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python"
        f" {platform.python_version()}; {url.split(':')[0]}; {args.workers} PDF workers"
    )
    timings: list[float] = []
    async with app.router.lifespan_context(app):
        await app.state.pdf.wait_ready()
        factory = Factory(app)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            for _ in range(args.rounds + 1):  # the first warms the seal key and caches
                signing = await out_for_signing(client, factory)
                for party in (signing.applicant, signing.respondent):
                    r = await sign(client, signing, party)
                    if r.status_code != 201:
                        print(f"a party's signature failed: {r.status_code} {r.text}")
                        return 1
                started = time.perf_counter()
                r = await sign(
                    client,
                    signing,
                    signing.mediator,
                    method="typed",
                    image_png=None,
                    typed_name=signing.world.mediator.name,
                )
                took = time.perf_counter() - started
                if r.status_code != 201 or r.json()["status"] != "effective":
                    print(f"the last signature failed: {r.status_code} {r.text}")
                    return 1
                timings.append(took)
    timings = timings[1:]
    timings.sort()
    p90 = timings[min(len(timings) - 1, int(len(timings) * 0.9))]
    print(
        f"last signature -> sealed, stored PDF, effective ({len(timings)} rounds):"
        f" median {statistics.median(timings) * 1000:.0f} ms,"
        f" p90 {p90 * 1000:.0f} ms, worst {timings[-1] * 1000:.0f} ms"
    )
    return 0


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default="")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
