"""From the SQL the app really sent for a few requests to a plan the database ceiling replays.

`bench/capture.py` records, for each pre-flight request, every statement the app sent to the
driver with its parameters. `derive_plan` works out, per scenario, where each parameter comes
from: a piece of the request (a path segment, a query value, the subject of the bearer token)
or a constant. A plan holds only if it explains every captured request of the scenario: the
same statements, and each parameter from the same source (or the same constant). The database
ceiling (`bench/dbceiling.py`) then runs exactly those statements for each request it serves.
"""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# A parameter's source: ("path", index) | ("query", name) | ("query_int", name)
# | ("subject",) | ("const", value)
Source = tuple[Any, ...]


class PlanError(ValueError):
    """The captured requests of a scenario do not follow one plan."""


@dataclass(frozen=True)
class Statement:
    sql: str
    sources: tuple[Source, ...]


def token_subject(token: str) -> str | None:
    """The `sub` claim of a JWT, read without checking the signature (the ceiling validates
    nothing; the app does)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) else None


def request_inputs(path: str, token: str) -> dict[Source, Any]:
    """Every value a request carries that a parameter could be bound from."""
    parts = urlsplit(path)
    inputs: dict[Source, Any] = {}
    for index, segment in enumerate(parts.path.strip("/").split("/")):
        inputs[("path", index)] = segment
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        inputs[("query", name)] = value
        with contextlib.suppress(ValueError):
            inputs[("query_int", name)] = int(value)
    subject = token_subject(token) if token else None
    if subject is not None:
        inputs[("subject",)] = subject
    return inputs


def resolve(source: Source, inputs: dict[Source, Any]) -> Any:
    if source[0] == "const":
        return source[1]
    return inputs[source]


def _candidates(value: Any, inputs: dict[Source, Any]) -> list[Source]:
    return [
        source for source, given in inputs.items() if type(given) is type(value) and given == value
    ]


def derive_plan(captures: list[dict[str, Any]]) -> list[Statement]:
    """One plan for all `captures` ({"path", "token", "statements": [[sql, params], ...]})."""
    if not captures:
        raise PlanError("no captured request")
    shapes = {tuple(sql for sql, _ in capture["statements"]) for capture in captures}
    if len(shapes) != 1:
        raise PlanError(f"the requests sent different statements: {sorted(shapes)}")
    plan = []
    for position, sql in enumerate(next(iter(shapes))):
        sources = []
        values = [list(capture["statements"][position][1]) for capture in captures]
        inputs = [request_inputs(capture["path"], capture["token"]) for capture in captures]
        for index in range(len(values[0])):
            sources.append(_source_of(sql, index, [v[index] for v in values], inputs))
        plan.append(Statement(sql, tuple(sources)))
    return plan


def _source_of(sql: str, index: int, values: list[Any], inputs: list[dict[Source, Any]]) -> Source:
    """The one source that gave parameter `index` in every request, else a constant."""
    common = set(_candidates(values[0], inputs[0]))
    for value, given in zip(values[1:], inputs[1:], strict=True):
        common &= set(_candidates(value, given))
    if common:
        return sorted(common, key=repr)[0]
    if all(value == values[0] for value in values):
        return ("const", values[0])
    raise PlanError(f"parameter {index} of {sql!r} varies but no request input explains it")


def parameters(plan: list[Statement], path: str, token: str) -> list[tuple[Any, ...]]:
    """The parameters of each statement of `plan` for one request."""
    inputs = request_inputs(path, token)
    return [tuple(resolve(source, inputs) for source in statement.sources) for statement in plan]


def plan_to_json(plan: list[Statement]) -> list[dict[str, Any]]:
    return [{"sql": statement.sql, "sources": list(statement.sources)} for statement in plan]


def plan_from_json(document: list[dict[str, Any]]) -> list[Statement]:
    return [
        Statement(entry["sql"], tuple(tuple(source) for source in entry["sources"]))
        for entry in document
    ]
