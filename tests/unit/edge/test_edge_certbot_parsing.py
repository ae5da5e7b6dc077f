"""Parsing certbot's failures and renewal confs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from wapang.edge.certbot import (
    parse_failure,
    parse_problems,
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


CHALLENGE_FAILURE = """Certbot failed to authenticate some domains (authenticator: webroot). The \
Certificate Authority reported these problems:
  Domain: api.example.com
  Type:   connection
  Detail: 203.0.113.7: Fetching http://api.example.com/.well-known/acme-challenge/x: \
Connection refused

Hint: The Certificate Authority failed to download the temporary challenge files.

Some challenges have failed.
Ask for help or search for solutions at https://community.letsencrypt.org. See the logfile \
/var/log/letsencrypt/letsencrypt.log or re-run Certbot with -v for more details.
"""

ORDER_REJECTED_LOG = """2026-11-25 12:00:00,000:DEBUG:acme.client:Received response:
HTTP 400
Content-Type: application/problem+json

{
  "type": "urn:ietf:params:acme:error:rejectedIdentifier",
  "detail": "Order included a blocked identifier",
  "status": 400
}
"""


def test_the_cas_problem_per_name_not_certbots_boilerplate() -> None:
    failure = parse_failure(CHALLENGE_FAILURE, NOW)
    assert failure.problems == [
        {
            "name": "api.example.com",
            "type": "connection",
            "detail": "203.0.113.7: Fetching http://api.example.com/.well-known/acme-challenge/x: "
            "Connection refused",
        }
    ]
    assert "Connection refused" in failure.summary
    assert "community.letsencrypt.org" not in failure.summary


def test_problem_documents_from_the_debug_log() -> None:
    (problem,) = parse_problems(ORDER_REJECTED_LOG)
    assert problem["type"] == "rejectedIdentifier"
    assert problem["detail"] == "Order included a blocked identifier"


def test_a_client_side_error_is_reported_when_the_ca_said_nothing() -> None:
    text = (
        "An unexpected error occurred:\nrequests.exceptions.ConnectionError: "
        "HTTPSConnectionPool(host='127.0.0.1', port=1): Max retries exceeded\n"
        "Ask for help or search for solutions at https://community.letsencrypt.org.\n"
    )
    (problem,) = parse_problems(text)
    assert problem["type"] == "client"
    assert "Max retries exceeded" in problem["detail"]
    assert parse_failure("Ask for help or search for solutions\n", NOW).summary.startswith(
        "certbot failed without saying why"
    )
