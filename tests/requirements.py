"""In CI every integration is required: a missing tool or server fails the run, never skips it."""

from __future__ import annotations

import os

import pytest

from harness.binaries import which


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def require_available(available: bool, what: str) -> None:
    """Skip locally when `what` is not available; fail in CI, where it must be."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} is not available (required in CI)")


def find_binaries(*names: str) -> dict[str, str]:
    """Absolute paths of the binaries; a missing one fails under CI and skips elsewhere."""
    found = {name: which(name) for name in names}
    missing = sorted(name for name, path in found.items() if path is None)
    require_available(not missing, ", ".join(missing))
    return {name: path for name, path in found.items() if path}
