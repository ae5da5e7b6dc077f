"""The CA's renewal window for a certificate (ARI), cached between passes: light on purpose
(no acme import) so `status` and the app image's `wapang` CLI can read it."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class RenewalWindow:
    renew_at: datetime  # the moment chosen inside the CA's suggested window
    check_again: datetime  # the CA's Retry-After for renewal info


def save_state(path: Path, serial: str, window: RenewalWindow) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "serial": serial,
        "renew_at": window.renew_at.isoformat(),
        "check_again": window.check_again.isoformat(),
        "saved": time.time(),
    }
    temporary = path.with_name(path.name + ".wapang-tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def load_state(path: Path, serial: str) -> RenewalWindow | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if data.get("serial") != serial:
        return None
    return RenewalWindow(
        datetime.fromisoformat(data["renew_at"]), datetime.fromisoformat(data["check_again"])
    )
