"""Where the machine's tools are: PATH, then the sbin directories (Debian's nginx is in
/usr/sbin, which a non-root PATH lacks)."""

from __future__ import annotations

import os
import shutil


def which(name: str) -> str | None:
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def nginx_binary() -> str:
    found = which("nginx")
    if found is None:
        raise RuntimeError("nginx is not installed: apt-get install nginx")
    return found
