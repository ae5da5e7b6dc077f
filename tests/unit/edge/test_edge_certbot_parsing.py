"""Parsing certbot's failures and renewal confs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from wapang.edge.certbot import (
    parse_failure,
    parse_retry_after,
    renewal_param,
    webroot_renewal_conf,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

LE_RATE_LIMIT = """Saving debug log to /var/log/letsencrypt/letsencrypt.log
Requesting a certificate for api.example.com
An unexpected error occurred:
Error creating new order :: too many certificates (5) already issued for this exact set of \
identifiers in the last 168h0m0s, retry after 2026-11-28 08:15:02 UTC: see \
https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers
Ask for help or search for solutions at https://community.letsencrypt.org.
"""

LOG_WITH_HEADER = """2026-11-25 12:00:00,000:DEBUG:acme.client:Received response:
HTTP 429
Content-Type: application/problem+json
Retry-After: 3600

{"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many failed authorizations"}
"""


def test_retry_after_from_the_problem_detail() -> None:
    assert parse_retry_after(LE_RATE_LIMIT, NOW) == datetime(2026, 11, 28, 8, 15, 2, tzinfo=UTC)


def test_retry_after_from_the_http_header_in_seconds_and_as_a_date() -> None:
    assert parse_retry_after(LOG_WITH_HEADER, NOW) == NOW + timedelta(hours=1)
    dated = "Retry-After: Wed, 25 Nov 2026 14:00:00 GMT\n"
    assert parse_retry_after(dated, NOW) == datetime(2026, 11, 25, 14, tzinfo=UTC)
    assert parse_retry_after("no hint here", NOW) is None


def test_retry_after_takes_the_latest_hint() -> None:
    both = LE_RATE_LIMIT + LOG_WITH_HEADER
    assert parse_retry_after(both, NOW) == datetime(2026, 11, 28, 8, 15, 2, tzinfo=UTC)


def test_parse_failure_flags_rate_limits_and_summarises() -> None:
    failure = parse_failure(LE_RATE_LIMIT, NOW)
    assert failure.rate_limited
    assert "too many certificates" in failure.summary
    assert failure.retry_after is not None
    plain = parse_failure("Some challenges have failed.\nconnection refused\n", NOW)
    assert not plain.rate_limited
    assert plain.retry_after is None
    assert "failed" in plain.summary


STANDALONE_CONF = """version = 5.8.0
archive_dir = /etc/letsencrypt/archive/api.example.com
cert = /etc/letsencrypt/live/api.example.com/cert.pem
privkey = /etc/letsencrypt/live/api.example.com/privkey.pem
chain = /etc/letsencrypt/live/api.example.com/chain.pem
fullchain = /etc/letsencrypt/live/api.example.com/fullchain.pem

# Options used in the renewal process
[renewalparams]
account = 0123456789abcdef
authenticator = standalone
http01_port = 80
server = https://acme-v02.api.letsencrypt.org/directory
key_type = ecdsa
"""


def test_standalone_conf_becomes_webroot_and_keeps_everything_else() -> None:
    fixed = webroot_renewal_conf(
        STANDALONE_CONF, Path("/var/www/certbot"), ["api.example.com", "www.example.com"]
    )
    assert renewal_param(fixed, "authenticator") == "webroot"
    assert renewal_param(fixed, "server") == "https://acme-v02.api.letsencrypt.org/directory"
    assert renewal_param(fixed, "account") == "0123456789abcdef"
    assert renewal_param(fixed, "http01_port") is None
    assert fixed.startswith("version = 5.8.0\n")
    assert fixed.rstrip().endswith(
        "[[webroot_map]]\napi.example.com = /var/www/certbot\nwww.example.com = /var/www/certbot"
    )
    # idempotent: fixing a webroot conf rebuilds the same map once
    again = webroot_renewal_conf(
        fixed, Path("/var/www/certbot"), ["api.example.com", "www.example.com"]
    )
    assert again == fixed


def test_renewal_param_reads_only_renewalparams() -> None:
    assert renewal_param(STANDALONE_CONF, "authenticator") == "standalone"
    assert renewal_param(STANDALONE_CONF, "cert") is None  # top-level key, not a renewal param
