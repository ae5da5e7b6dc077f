"""The "a third of the lifetime left" decision, staging detection, rendering and settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from wapang.edge.certificates import CertInfo, load_cert, needs_order, write_placeholder
from wapang.edge.errors import EdgeConfigError, TemplateError
from wapang.edge.nginx import TEMPLATE_DIR, render_template, template_variables
from wapang.edge.settings import DEFAULT_STAGING_ISSUER_PATTERN, EdgeSettings, load_settings

ISSUED = datetime(2026, 11, 1, tzinfo=UTC)
NAMES = {"api.example.com", "www.example.com"}


def cert(issuer: str = "CN=R11,O=Let's Encrypt,C=US", names: set[str] = NAMES) -> CertInfo:
    return CertInfo(
        names=frozenset(names),
        issuer=issuer,
        subject="CN=api.example.com",
        serial=0x1234,
        not_before=ISSUED,
        not_after=ISSUED + timedelta(days=90),
    )


def test_no_order_while_more_than_a_third_of_the_lifetime_is_left() -> None:
    assert needs_order(cert(), NAMES, ISSUED + timedelta(days=59)) is None
    assert needs_order(cert(), NAMES, ISSUED + timedelta(days=60)) is not None  # 30 of 90 left
    assert "expired" in str(needs_order(cert(), NAMES, ISSUED + timedelta(days=91)))
    assert cert().renew_at == ISSUED + timedelta(days=60)


def test_short_lifetimes_scale_the_window() -> None:
    # Under 10 days (the 160-hour shortlived profile): renew at half the lifetime, like certbot.
    six_days = CertInfo(frozenset(NAMES), "CN=E7", "CN=x", 1, ISSUED, ISSUED + timedelta(days=6))
    assert needs_order(six_days, NAMES, ISSUED + timedelta(days=2, hours=23)) is None
    assert needs_order(six_days, NAMES, ISSUED + timedelta(days=3, hours=1)) is not None
    # 45 days (tlsserver): a third, as for 90 days
    short = CertInfo(frozenset(NAMES), "CN=E7", "CN=x", 1, ISSUED, ISSUED + timedelta(days=45))
    assert needs_order(short, NAMES, ISSUED + timedelta(days=29)) is None
    assert needs_order(short, NAMES, ISSUED + timedelta(days=31)) is not None


def test_an_order_is_needed_for_a_missing_cert_or_other_names() -> None:
    assert needs_order(None, NAMES, ISSUED) == "no certificate"
    assert "names differ" in str(needs_order(cert(names={"api.example.com"}), NAMES, ISSUED))


def test_staging_issuers_are_recognised_by_the_default_pattern() -> None:
    assert cert("CN=(STAGING) Ersatz Edamame E1,O=(STAGING) Let's Encrypt").is_staging(
        DEFAULT_STAGING_ISSUER_PATTERN
    )
    assert cert("CN=Fake LE Intermediate X1").is_staging(DEFAULT_STAGING_ISSUER_PATTERN)
    assert not cert().is_staging(DEFAULT_STAGING_ISSUER_PATTERN)


def test_placeholder_is_recognisable(tmp_path: Path) -> None:
    write_placeholder(tmp_path, ["api.example.com"])
    info = load_cert(tmp_path / "fullchain.pem")
    assert info is not None
    assert info.is_placeholder()
    assert info.names == {"api.example.com"}
    assert (tmp_path / "privkey.pem").stat().st_mode & 0o077 == 0


def settings(**values: object) -> EdgeSettings:
    return EdgeSettings(domains="api.example.com, www.example.com", **values)  # type: ignore[arg-type]


def test_the_template_renders_with_every_variable_and_production_ports() -> None:
    text = (TEMPLATE_DIR / "wapang.conf.template").read_text()
    rendered = render_template(text, template_variables(settings()))
    assert "${" not in rendered
    assert "listen 443 ssl http2 default_server;" in rendered
    # nginx variables untouched; the redirect names the site, never the request's Host
    assert "return 301 https://$server_name$request_uri;" in rendered
    assert "$host$request_uri" not in rendered
    assert "server_name api.example.com www.example.com;" in rendered
    assert "ssl_certificate     /etc/letsencrypt/wapang/current/fullchain.pem;" in rendered


def test_throttling_values_follow_the_settings() -> None:
    default = template_variables(settings())
    assert (default["EDGE_AUTH_RATE"], default["EDGE_AUTH_RATE_BURST"]) == ("10r/m", "20")
    assert default["EDGE_AUTH_LIMIT_KEY"] == "$binary_remote_addr"
    assert default["EDGE_AUTH_RETRY_AFTER"] == "6"
    assert template_variables(settings(auth_rate_limit="7r/m"))["EDGE_AUTH_RETRY_AFTER"] == "9"
    assert template_variables(settings(auth_rate_limit="5r/s"))["EDGE_AUTH_RETRY_AFTER"] == "1"
    off = template_variables(settings(auth_rate_limit="off"))
    assert off["EDGE_AUTH_LIMIT_KEY"] == '""'
    for bad in ("10/m", "0r/s", "10r/h", "ten"):
        with pytest.raises(ValidationError):
            settings(auth_rate_limit=bad)


def test_loopback_ports_go_into_listen_and_the_redirect() -> None:
    variables = template_variables(settings(listen_address="127.0.0.1", https_port=5443))
    assert variables["EDGE_HTTPS_LISTEN"] == "127.0.0.1:5443"
    assert variables["EDGE_REDIRECT_PORT_SUFFIX"] == ":5443"


def test_an_unknown_placeholder_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(TemplateError, match="EDGE_TYPO"):
        render_template("listen ${EDGE_TYPO};", {"EDGE_HTTP_LISTEN": "80"})


def test_config_errors_list_every_problem_with_its_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DOMAINS", "ACME_SERVER", "HTTP_PORT", "UPSTREAM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACME_SERVER", "http://insecure.example/dir")
    monkeypatch.setenv("HTTP_PORT", "eighty")
    monkeypatch.setenv("UPSTREAM", "no-port")
    with pytest.raises(EdgeConfigError) as caught:
        load_settings()
    problems = "\n".join(caught.value.problems)
    assert "DOMAINS: missing (expected comma-separated DNS names" in problems
    assert "ACME_SERVER:" in problems
    assert "https://" in problems
    assert "HTTP_PORT:" in problems
    assert "UPSTREAM:" in problems
    assert len(caught.value.problems) == 4


def test_domains_are_split_lowercased_and_validated() -> None:
    assert settings().domains == ["api.example.com", "www.example.com"]
    with pytest.raises(EdgeConfigError, match="not a name is not a DNS name"):
        load_settings(domains="api.example.com,not a name")


def test_names_http01_cannot_validate_are_all_refused_at_once() -> None:
    many = ",".join(f"n{i}.example.com" for i in range(26))
    with pytest.raises(EdgeConfigError) as caught:
        load_settings(
            domains=f"*.example.com,10.0.0.12,[::1],{many}",
            cert_profile="shortlived",
            cert_email="not-an-email",
            dns_resolver="resolver.example",
        )
    text = "\n".join(caught.value.problems)
    assert "*.example.com is a wildcard" in text
    assert "10.0.0.12 is an IP address" in text
    assert "[::1] is not a DNS name" in text or "[::1] is an IP address" in text
    assert "the shortlived profile allows 25 per certificate" in text
    assert text.count("\n") == 2  # DOMAINS, CERT_EMAIL, DNS_RESOLVER: one line each
    assert "CERT_EMAIL" in text
    assert "DNS_RESOLVER" in text
    assert len(settings().domains) <= settings().max_names
