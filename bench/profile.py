"""Optional sampling profile of the app workers during a measured run (`--profile NAMES`).

Needs py-spy, a development dependency (`uv sync` installs it; it samples other processes,
so it needs ptrace rights: root, or kernel.yama.ptrace_scope=0). The collapsed stacks are
written beside the results (`bench/results/<timestamp>-<scenario>.stacks`, for speedscope or
flamegraph.pl) and summarised here: where the workers' CPU time goes, by function,
inclusive and self. Figures of a profiled run are a little lower than unprofiled ones.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"


def available() -> bool:
    return PY_SPY.exists() or shutil.which("py-spy") is not None


def start(pid: int, seconds: int, output: Path) -> subprocess.Popen[bytes]:
    command = [
        str(PY_SPY if PY_SPY.exists() else "py-spy"),
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        "--nonblocking",
        "--rate",
        "100",
        "--duration",
        str(seconds),
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _label(frame: str) -> str:
    """`function (path/to/module.py:12)` -> `function (package/module.py)`."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['function']} ({path})"


def _package(label: str) -> str:
    """`function (sqlalchemy/orm/session.py)` -> `sqlalchemy`; the app's own code by domain."""
    path = label[label.rfind("(") + 1 : -1]
    parts = path.split("/")
    if parts[0] == "wapang" and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0].removesuffix(".py") if parts else label


def summarise(stacks: Path, top: int = 20) -> str:
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in stacks.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        # py-spy starts each stack with the process names: not frames.
        frames = [_label(frame) for frame in stack.split(";") if _FRAME.match(frame)]
        if not frames:
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        leaf[frames[-1]] += count
        packages[_package(frames[-1])] += count
    if not total:
        return "   (no samples)"

    def share(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    lines = [f"   {total} samples of busy worker threads (C time counts for its Python caller)"]
    lines.append("   self time by package:")
    lines += [f"   {share(n)}  {name}" for name, n in packages.most_common(12)]
    lines.append("   inclusive, the app's own functions:")
    own = [(name, n) for name, n in inclusive.most_common() if "(wapang/" in name]
    lines += [f"   {share(n)}  {name}" for name, n in own[:top]]
    lines.append("   self, by function:")
    lines += [f"   {share(n)}  {name}" for name, n in leaf.most_common(top)]
    return "\n".join(lines)
