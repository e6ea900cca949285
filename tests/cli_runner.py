"""Runs the installed ``mediation`` command as a real subprocess against a test database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

MEDIATION = Path(sys.executable).parent / "mediation"
TIMEOUT = 120


def cli_env(db_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_")}
    env.update(
        MEDIATION_DATABASE_URL=db_url,
        MEDIATION_DATA_DIR=str(data_dir),
        MEDIATION_LOG_JSON="false",
        PYTHONIOENCODING="utf-8",
    )
    return env


async def run_cli(
    db_url: str, data_dir: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``mediation *args`` in a thread, so the test's event loop keeps running."""
    assert MEDIATION.exists(), f"the mediation command is not installed at {MEDIATION}"
    return await asyncio.to_thread(
        subprocess.run,
        [str(MEDIATION), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=cli_env(db_url, data_dir),
        timeout=TIMEOUT,
        check=False,
    )
