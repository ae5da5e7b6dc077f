"""Where the CPU went during a measured run: the app, MariaDB, the load generator, and the rest.

Read from /proc (Linux). "other" is everything else on the machine: when it is not near zero,
something outside the bench competed for the cores and the run's figures are noisy.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _busy_seconds() -> float:
    fields = PROC.joinpath("stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICK


def _processes() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds of all its threads, command name)."""
    found = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = entry.joinpath("stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK, name)
    return found


def mariadb_pid() -> int | None:
    """The host's MariaDB: a container's (the stack tests run one) is in another mount
    namespace."""
    ours = os.stat("/proc/self/ns/mnt").st_ino
    for pid, (_, _, name) in _processes().items():
        if name in ("mariadbd", "mysqld"):
            try:
                if os.stat(f"/proc/{pid}/ns/mnt").st_ino == ours:
                    return pid
            except OSError:
                continue
    return None


def _reaped_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Sample:
    at: float
    busy: float
    buckets: dict[str, float]
    reaped: float


def sample(roots: dict[str, int]) -> Sample:
    """CPU seconds so far per bucket: each process counts for its nearest ancestor in `roots`."""
    processes = _processes()
    by_pid = {pid: name for name, pid in roots.items()}
    buckets = dict.fromkeys(roots, 0.0)
    for pid, (_, seconds, _) in processes.items():
        walk, hops = pid, 0
        while walk not in by_pid and walk in processes and hops < 64:
            walk, hops = processes[walk][0], hops + 1
        if walk in by_pid:
            buckets[by_pid[walk]] += seconds
    return Sample(time.monotonic(), _busy_seconds(), buckets, _reaped_children())


def cores_used(before: Sample, after: Sample) -> dict[str, float]:
    """Average cores busy per bucket between two samples (processes reaped meanwhile, like
    wrk, count for `bench`)."""
    wall = after.at - before.at
    used = {name: after.buckets[name] - before.buckets.get(name, 0.0) for name in after.buckets}
    used["bench"] = used.get("bench", 0.0) + after.reaped - before.reaped
    used["other"] = max(0.0, (after.busy - before.busy) - sum(used.values()))
    return {name: round(max(0.0, seconds) / wall, 2) for name, seconds in used.items()}


def rss_mib(root: int) -> dict[str, float]:
    """Resident memory of `root` and of each of its descendants (uvicorn's supervisor and its
    workers), in MiB: `"<pid> <name>": MiB`."""
    processes = _processes()
    tree, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _, _) in processes.items() if ppid == parent]
        tree += children
        frontier += children
    found = {}
    for pid in tree:
        try:
            status = PROC.joinpath(str(pid), "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                name = processes.get(pid, (0, 0.0, "?"))[2]
                found[f"{pid} {name}"] = round(int(line.split()[1]) / 1024, 1)
    return found
