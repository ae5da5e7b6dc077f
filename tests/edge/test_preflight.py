"""The preflight refuses, with the reason and zero orders at either CA, a name that resolves
elsewhere, a webroot nginx does not serve, and a CAA record naming another CA."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.nginx import private_dir
from wapang.edge.ledger import Ledger
from wapang.edge.manager import Manager
from wapang.edge.preflight import run_preflight
from wapang.edge.settings import EdgeSettings

from .fixtures import EdgeFactory, Rig
from .rig import CaCounts

pytestmark = pytest.mark.edge

NOTHING = CaCounts(0, 0, 0)


@pytest.fixture
def dns_name(rig: Rig, request: pytest.FixtureRequest) -> Iterator[str]:
    """A name of this test's own; whatever the test sets in DNS for it is cleared after."""
    name = f"{request.node.name[5:40].replace('_', '-')}.wapang.test"
    yield name
    rig.challtestsrv.clear_a(name)
    rig.challtestsrv.clear_caa(name)


def refused_with_nothing_sent(edge_settings: EdgeSettings, rig: Rig, expected: str) -> str:
    production, staging = rig.production.counts(), rig.staging.counts()
    outcome = Manager(edge_settings).ensure()
    assert outcome.action == "failed", outcome
    assert "preflight refused the staging order" in outcome.message
    assert expected in outcome.message, outcome.message
    assert rig.production.counts() - production == NOTHING
    assert rig.staging.counts() - staging == NOTHING
    return outcome.message


def test_a_name_that_resolves_elsewhere_is_refused(
    make_edge: EdgeFactory, rig: Rig, dns_name: str
) -> None:
    rig.challtestsrv.add_a(dns_name, "127.0.0.2")  # nginx listens on 127.0.0.1 only
    edge = make_edge(domain=dns_name)
    message = refused_with_nothing_sent(edge.settings, rig, "resolves to 127.0.0.2")
    assert dns_name in message
    entries = Ledger(edge.settings.ledger_path).read().entries
    assert entries[-1].kind == "preflight"
    assert entries[-1].problems[0]["type"] == "http"


def test_a_webroot_nginx_does_not_serve_is_refused(make_edge: EdgeFactory, rig: Rig) -> None:
    edge = make_edge()
    elsewhere = private_dir(edge.prefix.parent, "not-served")
    settings = edge.settings.model_copy(update={"webroot": elsewhere})
    refused_with_nothing_sent(settings, rig, "HTTP 404, not the token written into")


def test_a_caa_record_naming_another_ca_is_refused(
    make_edge: EdgeFactory, rig: Rig, dns_name: str
) -> None:
    rig.challtestsrv.add_caa(dns_name, "other-ca.example")
    edge = make_edge(domain=dns_name)
    refused_with_nothing_sent(edge.settings, rig, "allows only other-ca.example")


def test_a_caa_record_naming_the_ca_passes(make_edge: EdgeFactory, rig: Rig, dns_name: str) -> None:
    rig.challtestsrv.add_caa(dns_name, "letsencrypt.org; validationmethods=http-01")
    edge = make_edge(domain=dns_name, caa_identities=["letsencrypt.org"])
    report = run_preflight(edge.settings)
    assert report.ok, report.problems
