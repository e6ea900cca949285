"""Says plainly whether the PostgreSQL admin connection for the tests answers (exit 0 if so).

When it does not and this machine has Debian's cluster tools, try starting the cluster once:
CI runs on a machine whose PostgreSQL is normally already up, but may have stopped.
"""

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg

URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


async def answers() -> str | None:
    try:
        conn = await asyncpg.connect(
            URL.replace("postgresql+asyncpg://", "postgresql://"), timeout=5
        )
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


def try_start() -> None:
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        return
    for version in sorted(os.listdir("/etc/postgresql")):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=False,
            timeout=60,
        )


def main() -> int:
    problem = asyncio.run(answers())
    if problem:
        try_start()
        problem = asyncio.run(answers())
    if problem:
        print(
            f"PostgreSQL is not reachable at {URL}\n  ({problem})\n"
            "Start PostgreSQL or set TEST_POSTGRES_URL to an admin connection"
            " (a role that may CREATE DATABASE).",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
