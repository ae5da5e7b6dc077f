"""The app as a process: the `wapang` console script and the one environment scrubber."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from wapang.config import Settings

WAPANG = str(Path(sys.executable).with_name("wapang"))  # the console script `uv run wapang` runs


def clean_env(**values: object) -> dict[str, str]:
    """This process's environment without any wapang setting (a REQUEST_TIMEOUT or DB_HOST in
    the shell must not reach a test's or the bench's server), plus `values`."""
    env = {key: value for key, value in os.environ.items() if key not in Settings.model_fields}
    return {**env, **{name: str(value) for name, value in values.items()}}
