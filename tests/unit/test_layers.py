"""The domains form layers: no domain package imports, directly or not, one that imports it."""

from __future__ import annotations

import ast
from pathlib import Path

import wapang
from wapang.database import Base
from wapang.errors import _CONFLICTS
from wapang.main import create_app

PACKAGE = Path(wapang.__file__).parent
# A domain serves requests: it has routes or request dependencies (edge and delivery are tools).
DOMAINS = sorted(
    path.name
    for path in PACKAGE.iterdir()
    if any((path / module).exists() for module in ("router.py", "dependencies.py"))
)


def _imported_domains(domain: str) -> set[str]:
    found = set()
    for source in (PACKAGE / domain).glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] == "wapang" and len(parts) > 1 and parts[1] in DOMAINS:
                    found.add(parts[1])
    return found - {domain}


def test_the_domains_are_found() -> None:
    assert {"auth", "users", "sessions", "stores", "items", "reviews", "orders", "carts"} <= set(
        DOMAINS
    )


def test_no_domain_imports_one_that_imports_it() -> None:
    graph = {domain: _imported_domains(domain) for domain in DOMAINS}

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        stack = list(graph[start])
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(graph[current])
        return seen

    cycles = sorted(domain for domain in DOMAINS if domain in reachable(domain))
    assert cycles == [], {domain: sorted(graph[domain]) for domain in cycles}


def test_every_unique_key_has_its_contract_error() -> None:
    create_app()  # imports every domain, so each declares its errors
    unique_keys = {
        str(constraint.name)
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if type(constraint).__name__ == "UniqueConstraint"
    }
    assert unique_keys - set(_CONFLICTS) == set()
    assert "pk_blocked_tokens" in _CONFLICTS
