"""The API's domains form layers: no domain package imports, directly or not, one that imports
it; the database layer below them imports none of them."""

from __future__ import annotations

import ast
from pathlib import Path

import wapang
from wapang.api.errors import _CONFLICTS
from wapang.api.main import create_app
from wapang.db.base import Base

PACKAGE = Path(wapang.__file__).parent
API = PACKAGE / "api"
# Every package under wapang/api is a domain: the layout is the list.
DOMAINS = sorted(path.parent.name for path in API.glob("*/__init__.py"))


def _imported_modules(folder: Path) -> set[str]:
    return {
        node.module
        for source in folder.rglob("*.py")
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module
    }


def _imported_domains(domain: str) -> set[str]:
    found = set()
    for module in _imported_modules(API / domain):
        parts = module.split(".")
        if parts[:2] == ["wapang", "api"] and len(parts) > 2 and parts[2] in DOMAINS:
            found.add(parts[2])
    return found - {domain}


def test_the_domains_are_found() -> None:
    expected = ["auth", "carts", "items", "orders", "reviews", "signin", "stores", "users"]
    assert expected == DOMAINS


def test_the_database_layer_imports_no_api_module() -> None:
    upward = {m for m in _imported_modules(PACKAGE / "db") if m.startswith("wapang.api")}
    assert upward == set()


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
