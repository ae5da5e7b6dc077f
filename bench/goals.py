"""The issue's goals, evaluated on one run's figures (pure: tests/bench checks it).

Every goal is a ratio or a bound within one run, so a noisy machine moves both sides of a ratio
together; read "other" CPU (bench/cpu.py) before trusting an absolute figure.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

ITEMS, ITEMS_STORM, STORE_ITEMS, ITEM_REVIEWS, USERS_ME = (
    "items_filtered",
    "items_filtered_storm",
    "store_items",
    "item_reviews",
    "users_me",
)
ORDERS, HOT_ITEM, ITEMS_EDGE = "orders", "hot_item", "items_edge"
ITEMS_GRANIAN = "items_filtered_granian"  # a measured choice of server, not a goal
# The same requests against the app without its request telemetry (bench/untraced.py).
UNTRACED = {ITEMS: "items_filtered_untraced", USERS_ME: "users_me_untraced"}
SCALED = {ITEMS: "items_filtered_1m", STORE_ITEMS: "store_items_1m"}
READS = (ITEMS, STORE_ITEMS, ITEM_REVIEWS, USERS_ME)

# Share of the database-backed ceiling's requests/s each scenario must reach (orders: the
# ceiling's transaction, bench/orderceiling.py).
CEILING_SHARE = {ITEMS: 0.60, STORE_ITEMS: 0.60, ITEM_REVIEWS: 0.60, USERS_ME: 0.50, ORDERS: 0.50}
TAIL_FACTOR = 3.0  # p99 <= 3 x p50, every read and the orders
HOT_ITEM_TAIL_FACTOR = 4.0  # one item's row lock queues every order: p99 <= 4 x p50
STORM_KEEPS = 0.80
EDGE_KEEPS = 0.85
SCALE_P50_FACTOR = 1.5
TELEMETRY_CPU_SHARE = 0.10  # request logging and metrics: at most 10% more CPU per request


def ratio(part: float, whole: float) -> float | None:
    """`part` as a share of `whole`, to 0.1%: the one figure printed, stored and judged."""
    return round(part / whole, 3) if whole else None


def median_share(shares: Sequence[float], part: float, whole: float) -> float | None:
    """The median of a paired comparison's shares by round (bench/measure.py `alternating`)
    when it has them, else `part` of `whole`."""
    if shares:
        return round(statistics.median(shares), 3)
    return ratio(part, whole)


def times(figure: float, base: float) -> float:
    """How many times `base` `figure` is, to 0.01 (infinite on a zero base): printed and judged."""
    return round(figure / base, 2) if base else float("inf")


class Measured(Protocol):
    @property
    def rps(self) -> float: ...
    @property
    def p50_ms(self) -> float: ...
    @property
    def p99_ms(self) -> float: ...
    @property
    def errors(self) -> int: ...


@dataclass(frozen=True)
class Run:
    """What goals need of one scenario: the app's figures and its database ceiling's."""

    app: Measured
    db_ceiling: Measured | None = None
    extra_errors: int = 0  # errors outside wrk's count (the sign-in storm, the ceilings)
    cpu_ms_per_request: float = 0.0  # the serving processes' CPU per answered request
    # CPU ms/request without and with the request telemetry, measured side by side
    telemetry_pairs: tuple[tuple[float, float], ...] = ()
    # The app's share of what its goal compares it with (its database ceiling, or the app
    # alone for the edge and the storm) in each alternating round; the goal reads their median.
    shares: tuple[float, ...] = ()


def evaluate(runs: dict[str, Run]) -> list[dict[str, Any]]:
    goals: list[dict[str, Any]] = []

    def goal(text: str, passed: bool, measured: str) -> None:
        goals.append({"goal": text, "passed": passed, "measured": measured})

    for name, share in CEILING_SHARE.items():
        run = runs.get(name)
        if run is None or run.db_ceiling is None:
            continue
        share_reached = median_share(run.shares, run.app.rps, run.db_ceiling.rps)
        if share_reached is None:
            continue
        text = f"{name}: >= {share:.0%} of the database ceiling's req/s"
        goal(text, share_reached >= share, _share_measured(share_reached, run.shares))
    tails = [(name, TAIL_FACTOR) for name in (*READS, ORDERS)] + [(HOT_ITEM, HOT_ITEM_TAIL_FACTOR)]
    for name, factor in tails:
        run = runs.get(name)
        if run is None:
            continue
        tail = run.app.p99_ms / run.app.p50_ms if run.app.p50_ms else float("inf")
        goal(
            f"{name}: no error, p99 <= {factor:g} x p50",
            run.app.errors == 0 and tail <= factor,
            f"{run.app.p99_ms} / {run.app.p50_ms} ms = {tail:.2f}x, {run.app.errors} errors",
        )
    _kept(goal, runs, ITEMS_STORM, ITEMS, STORM_KEEPS, "items during 4 sign-ins/s")
    _kept(goal, runs, ITEMS_EDGE, ITEMS, EDGE_KEEPS, "items through nginx + TLS")
    for base, scaled in SCALED.items():
        small, large = runs.get(base), runs.get(scaled)
        if small is not None and large is not None:
            text = f"{base} at 1M items: p50 <= {SCALE_P50_FACTOR:g} x p50 at 10k"
            _at_most_times(goal, text, large.app.p50_ms, small.app.p50_ms, SCALE_P50_FACTOR)
    for base, untraced in UNTRACED.items():
        cost = telemetry_cost(runs.get(base), runs.get(untraced))
        if cost is None:
            continue
        goal(
            f"{base}: request logging and metrics cost <= {TELEMETRY_CPU_SHARE:.0%} CPU/request",
            cost <= TELEMETRY_CPU_SHARE,
            _telemetry_measured(runs[base], runs[untraced], cost),
        )
    total = sum(run.app.errors + run.extra_errors for run in runs.values())
    goal("zero errors in every run", total == 0, f"{total} errors")
    return goals


def _at_most_times(goal: Any, text: str, figure: float, base: float, bound: float) -> None:
    """`figure` at most `bound` times `base` (a tail, a slowdown), both shown as measured."""
    factor = times(figure, base)
    goal(text, factor <= bound, f"{figure} / {base} ms = {factor:.2f}x")


def telemetry_cost(traced: Run | None, untraced: Run | None) -> float | None:
    """The app's CPU per request with its request telemetry over the same without, minus 1.

    From the pairs measured side by side when there are (their median: runs one after the other
    read +7% to +27% for the same code, while a pair shares every moment of the machine), else
    from the two scenarios' own runs."""
    if traced is None or untraced is None:
        return None
    if pairs := _measured_pairs(untraced):
        return round(statistics.median(with_it / without - 1 for without, with_it in pairs), 3)
    if not untraced.cpu_ms_per_request:
        return None
    return round(traced.cpu_ms_per_request / untraced.cpu_ms_per_request - 1, 3)


def _measured_pairs(untraced: Run) -> list[tuple[float, float]]:
    """The pairs a cost can be read from (a run without that answered nothing has none)."""
    return [(without, with_it) for without, with_it in untraced.telemetry_pairs if without]


def _telemetry_measured(traced: Run, untraced: Run, cost: float) -> str:
    pairs = _measured_pairs(untraced)
    if not pairs:
        before, after = untraced.cpu_ms_per_request, traced.cpu_ms_per_request
        return f"{before:.3f} -> {after:.3f} ms/req = {cost:+.1%}"
    shown = ", ".join(f"{without:.3f} -> {with_it:.3f}" for without, with_it in pairs)
    return f"median of {len(pairs)} side-by-side pairs ({shown} ms/req) = {cost:+.1%}"


def _kept(goal: Any, runs: dict[str, Run], name: str, base: str, share: float, text: str) -> None:
    run, alone = runs.get(name), runs.get(base)
    if run is None or (alone is None and not run.shares):
        return
    kept = median_share(run.shares, run.app.rps, alone.app.rps if alone else 0.0)
    if kept is None:
        return
    goal(f"{text}: >= {share:.0%} of items alone", kept >= share, _share_measured(kept, run.shares))


def _share_measured(reached: float, shares: tuple[float, ...]) -> str:
    if not shares:
        return f"{reached:.1%}"
    rounds = ", ".join(f"{share:.0%}" for share in shares)
    return f"{reached:.1%}, the median of {len(shares)} rounds ({rounds})"
