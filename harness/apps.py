"""The app as a process: `wapang serve` on a free loopback port, and the one environment
scrubber."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from harness.processes import LOOPBACK, Service, free_port
from wapang.config import Settings
from wapang.edge.settings import EdgeSettings

WAPANG = str(Path(sys.executable).with_name("wapang"))  # the console script `uv run wapang` runs


# The edge reads its settings case-insensitively; the app's names are upper case already.
SETTINGS = frozenset(Settings.model_fields) | {name.upper() for name in EdgeSettings.model_fields}


def clean_env(**values: object) -> dict[str, str]:
    """This process's environment without any wapang setting, the app's or the edge's (a
    REQUEST_TIMEOUT or DB_HOST in the shell must not reach a test's or the bench's server),
    plus `values`."""
    env = {key: value for key, value in os.environ.items() if key.upper() not in SETTINGS}
    return {**env, **{name: str(value) for name, value in values.items()}}


def serve_app(
    name: str, log: Path, env: dict[str, str], *args: str, port: int = 0, **options: Any
) -> Service:
    """`wapang serve ARGS` (migrations, then uvicorn) on `port` (0: a free one) on loopback, with
    exactly `env`; `options` go to Service.start (cwd, group). Not waited for: the caller knows
    when it is ready (an open port, /healthz, warm workers)."""
    port = port or free_port()
    command = [WAPANG, "serve", "--host", LOOPBACK, "--port", str(port), *args]
    return Service.start(name, command, log, env=env, port=port, **options)
