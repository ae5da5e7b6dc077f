"""In CI every integration is required: a missing tool or server fails the run, never skips it."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def require(available: bool, what: str) -> None:
    """Skip locally when `what` is not available; fail in CI, where it must be."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} is not available (required in CI)")
