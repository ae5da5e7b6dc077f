"""`wapang verify https://DOMAIN`: prove a deploy from the outside, the way a client sees it.

Checks, each reported with its reason: the TLS chain is valid for the name, the issuer is a
production CA (not Let's Encrypt staging), enough days are left, plain http redirects to https on
the same host, HSTS is sent, /readyz answers 200, and a sign-up (POST /api/users) returns 201,
which proves a database write through the whole path.

The API cannot delete users (the contract never does), so the clean-up goes to the database
itself: with `--cleanup` (settings from the environment, as in the app container) or
`--env-file F`, verify deletes its account there and fails if the row is not found, which also
proves the site writes to the database the deployment names. Without them the account stays:
`verify+<random>@<domain>`, random password nobody keeps, inert (deploy/DEPLOY.md).

`--connect-to ADDR` sends every connection to ADDR while the name (SNI, certificate check, Host
header) stays the domain: tests point it at loopback, and an operator can check a host before
DNS points at it.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
import typer
from cryptography import x509
from cryptography.x509.oid import NameOID
from rich.console import Console
from rich.table import Table

from wapang.api.users.service import delete_unused_account
from wapang.config import Settings
from wapang.console import load_settings_or_exit
from wapang.db.sessions import Database
from wapang.edge.certificates import fetch_served_certificate
from wapang.edge.settings import DEFAULT_STAGING_ISSUER_PATTERN

MIN_HSTS_MAX_AGE = 31_536_000  # one year: what browsers' preload lists require
REDIRECT_STATUSES = {301, 308}  # permanent, so clients and caches learn https
DEFAULT_MIN_DAYS = 14.0
SIGNUP = "sign-up (database write)"
CLEANUP = "clean-up (account deleted)"


class VerifyUsageError(ValueError):
    """The target itself is unusable (not https://HOST...): nothing can be checked."""


@dataclass(frozen=True)
class Target:
    """What to check (`host`, the name) and where to connect (`address`, ports)."""

    host: str
    https_port: int
    http_port: int
    address: str
    ca_file: Path | None = None
    timeout: float = 10.0

    @classmethod
    def from_url(
        cls,
        url: str,
        connect_to: str | None = None,
        http_port: int = 80,
        ca_file: Path | None = None,
        timeout: float = 10.0,
        https_port: int | None = None,
    ) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise VerifyUsageError(
                f"{url!r} is not an https:// URL: verify checks the TLS site (plain http is "
                "only checked for its redirect to https)"
            )
        return cls(
            host=parts.hostname,
            https_port=parts.port or https_port or 443,
            http_port=http_port,
            address=connect_to or parts.hostname,
            ca_file=ca_file,
            timeout=timeout,
        )

    @property
    def https_origin(self) -> str:
        return f"https://{self.host}" + ("" if self.https_port == 443 else f":{self.https_port}")

    def ssl_context(self) -> ssl.SSLContext:
        if self.ca_file is not None:
            return ssl.create_default_context(cafile=str(self.ca_file))
        return ssl.create_default_context()


@dataclass(frozen=True)
class Policy:
    min_days: float = DEFAULT_MIN_DAYS
    staging_issuer_pattern: str = DEFAULT_STAGING_ISSUER_PATTERN
    signup: bool = True
    email_domain: str | None = None  # default: the checked host
    cleanup: Settings | None = None  # the deployment's database, where the account is deleted


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    target: Target
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


# ---- TLS ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handshake:
    certificate: x509.Certificate | None
    verified: bool
    detail: str


def tls_handshake(target: Target) -> Handshake:
    """Verify the chain for the name; when that fails, still fetch the certificate (unverified)
    so the issuer and expiry checks can say what is actually being served."""
    try:
        der, version = _fetch_certificate(target, target.ssl_context())
    except ssl.SSLCertVerificationError as error:
        reason = error.verify_message or str(error)
        return Handshake(_unverified_certificate(target), False, f"chain not valid: {reason}")
    except ssl.SSLError as error:
        return Handshake(None, False, f"TLS handshake failed ({_ssl_reason(error)}): is it TLS?")
    except OSError as error:
        return Handshake(None, False, f"cannot connect to {_where(target)}: {error}")
    return Handshake(
        x509.load_der_x509_certificate(der), True, f"{version}, chain valid for {target.host}"
    )


def _fetch_certificate(target: Target, context: ssl.SSLContext) -> tuple[bytes, str]:
    with (
        socket.create_connection((target.address, target.https_port), target.timeout) as raw,
        context.wrap_socket(raw, server_hostname=target.host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        if der is None:
            raise ssl.SSLError("the server sent no certificate")
        return der, tls.version() or "TLS"


def _unverified_certificate(target: Target) -> x509.Certificate | None:
    try:
        return fetch_served_certificate(
            target.address, target.https_port, target.host, target.timeout
        )
    except OSError:  # ssl.SSLError included
        return None


def _ssl_reason(error: ssl.SSLError) -> str:
    return str(error.reason or error).replace("_", " ").lower()


def _where(target: Target) -> str:
    return f"{target.address}:{target.https_port}"


def issuer_check(certificate: x509.Certificate | None, policy: Policy) -> Check:
    if certificate is None:
        return Check("production issuer", False, "no certificate to inspect")
    issuer = certificate.issuer.rfc4514_string()
    if re.search(policy.staging_issuer_pattern, issuer):
        return Check(
            "production issuer",
            False,
            f"staging certificate ({issuer}): browsers reject it; the manager must order on "
            "production",
        )
    return Check("production issuer", True, _common_name(certificate.issuer) or issuer)


def expiry_check(
    certificate: x509.Certificate | None, policy: Policy, now: datetime | None = None
) -> Check:
    if certificate is None:
        return Check("days left", False, "no certificate to inspect")
    not_after = certificate.not_valid_after_utc
    days = (not_after - (now or datetime.now(UTC))).total_seconds() / 86400
    detail = f"{days:.1f} days (until {not_after:%Y-%m-%d %H:%M} UTC)"
    if days < policy.min_days:
        return Check(
            "days left",
            False,
            f"{detail}, under {policy.min_days:g}: renewal is not happening "
            "(see `wapang certs status` in the certbot container)",
        )
    return Check("days left", True, detail)


def _common_name(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else None


# ---- HTTP ---------------------------------------------------------------------------------------


def _client(target: Target) -> httpx.Client:
    return httpx.Client(verify=target.ssl_context(), timeout=target.timeout, follow_redirects=False)


def _request(
    client: httpx.Client, target: Target, method: str, scheme: str, path: str, **kwargs: Any
) -> httpx.Response:
    """A request to `address` that names `host` everywhere it matters (Host header, SNI)."""
    port = target.https_port if scheme == "https" else target.http_port
    url = f"{scheme}://{_url_host(target.address)}:{port}{path}"
    headers = {"Host": target.host if port in (80, 443) else f"{target.host}:{port}"}
    extensions = {"sni_hostname": target.host} if scheme == "https" else {}
    return client.request(method, url, headers=headers, extensions=extensions, **kwargs)


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def redirect_check(client: httpx.Client, target: Target) -> Check:
    path = "/wapang-verify?redirect=1"
    response = _request(client, target, "GET", "http", path)
    location = response.headers.get("location", "")
    expected = target.https_origin + path
    if response.status_code not in REDIRECT_STATUSES:
        return Check(
            "http → https",
            False,
            f"http://{target.host}:{target.http_port} answered {response.status_code}, "
            "expected a 301/308 redirect to https",
        )
    if location != expected:
        return Check("http → https", False, f"redirects to {location!r}, expected {expected!r}")
    return Check("http → https", True, f"{response.status_code} → {location}")


def hsts_check(response: httpx.Response) -> Check:
    header = response.headers.get("strict-transport-security")
    if header is None:
        return Check("HSTS", False, "no Strict-Transport-Security header on https responses")
    match = re.search(r"max-age\s*=\s*\"?(\d+)", header, re.IGNORECASE)
    max_age = int(match.group(1)) if match else 0
    if max_age < MIN_HSTS_MAX_AGE:
        return Check("HSTS", False, f"max-age={max_age}, need at least {MIN_HSTS_MAX_AGE}")
    return Check("HSTS", True, header)


def readiness_check(response: httpx.Response) -> Check:
    if response.status_code != 200:
        return Check(
            "/readyz",
            False,
            f"{response.status_code} {_error_text(response)}: the app cannot reach its database"
            if response.status_code == 503
            else f"{response.status_code} {_error_text(response)}",
        )
    return Check("/readyz", True, "200: the app answers and its database is reachable")


def signup_checks(client: httpx.Client, target: Target, policy: Policy) -> list[Check]:
    """The sign-up, then (with clean-up settings) the account's removal from the database."""
    email = f"verify+{secrets.token_hex(6)}@{policy.email_domain or target.host}"
    signup = _guarded(SIGNUP, lambda: signup_check(client, target, email))
    if policy.cleanup is None:
        return [signup]
    if not signup.ok:
        return [signup, Check(CLEANUP, False, "not checked: the sign-up failed")]
    return [signup, cleanup_check(policy.cleanup, email)]


def cleanup_check(settings: Settings, email: str) -> Check:
    try:
        found = asyncio.run(_delete_account(settings, email))
    except Exception as error:  # any driver error: report it, never a traceback
        return Check(CLEANUP, False, f"database {_database_name(settings)}: {error}")
    if not found:
        return Check(
            CLEANUP,
            False,
            f"{email} is not in {_database_name(settings)}: "
            "the site writes to another database than the one configured here",
        )
    return Check(CLEANUP, True, f"{email} found and deleted in {_database_name(settings)}")


async def _delete_account(settings: Settings, email: str) -> bool:
    database = Database(settings)
    try:
        async with database.sessions.begin() as session:  # commits on success
            return await delete_unused_account(session, email)
    finally:
        await database.dispose()


def _database_name(settings: Settings) -> str:
    where = "" if settings.DB_HOST is None else f" on {settings.DB_HOST}:{settings.DB_PORT}"
    return f"{settings.DB_DIALECT.value} database {settings.DB_DATABASE}{where}"


def signup_check(client: httpx.Client, target: Target, email: str) -> Check:
    password = secrets.token_urlsafe(12)[:16]  # never printed; nobody needs it again
    response = _request(
        client, target, "POST", "https", "/api/users", json={"email": email, "password": password}
    )
    if response.status_code != 201:
        answer = f"{response.status_code} {_error_text(response)}"
        return Check(SIGNUP, False, f"POST /api/users answered {answer}")
    return Check(SIGNUP, True, f"201: created {email}")


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict) and "error_code" in body:
        return f"{body['error_code']} {body.get('error_msg', '')}".strip()
    return response.reason_phrase


# ---- the whole run ------------------------------------------------------------------------------


def run_checks(target: Target, policy: Policy) -> Report:
    report = Report(target)
    handshake = tls_handshake(target)
    report.checks.append(Check("TLS chain and name", handshake.verified, handshake.detail))
    report.checks.append(issuer_check(handshake.certificate, policy))
    report.checks.append(expiry_check(handshake.certificate, policy))
    with _client(target) as client:
        report.checks.append(_guarded("http → https", lambda: redirect_check(client, target)))
        if handshake.verified:
            report.checks += _https_checks(client, target, policy)
    if not handshake.verified:
        # Every https request would fail the same way: the same checks run, each told so at
        # once, so their rows can never drift from the list of checks that exist.
        with httpx.Client(transport=httpx.MockTransport(_tls_failed)) as unreachable:
            report.checks += _https_checks(unreachable, target, policy)
    return report


def _tls_failed(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("not checked: the TLS check failed", request=request)


def _https_checks(client: httpx.Client, target: Target, policy: Policy) -> list[Check]:
    readyz = _guarded_response(lambda: _request(client, target, "GET", "https", "/readyz"))
    if isinstance(readyz, Check):
        checks = [Check("HSTS", False, readyz.detail), Check("/readyz", False, readyz.detail)]
    else:
        checks = [hsts_check(readyz), readiness_check(readyz)]
    if policy.signup:
        checks += signup_checks(client, target, policy)
    return checks


def _guarded(name: str, run: Callable[[], Check]) -> Check:
    try:
        return run()
    except httpx.HTTPError as error:
        return Check(name, False, _http_failure(error))


def _guarded_response(send: Callable[[], httpx.Response]) -> httpx.Response | Check:
    try:
        return send()
    except httpx.HTTPError as error:
        return Check("https request", False, _http_failure(error))


def _http_failure(error: httpx.HTTPError) -> str:
    kind = "TLS/connection error" if isinstance(error, httpx.ConnectError) else type(error).__name__
    return f"{kind}: {error}"


def render(report: Report, console: Console) -> None:
    target = report.target
    via = "" if target.address == target.host else f" via {target.address}"
    table = Table(title=f"wapang verify {target.https_origin}{via}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for check in report.checks:
        verdict = "[green]PASS[/green]" if check.ok else "[bold red]FAIL[/bold red]"
        table.add_row(check.name, verdict, check.detail)
    console.print(table)
    failed = sum(not check.ok for check in report.checks)
    if failed:
        console.print(f"[bold red]{failed} check(s) failed[/bold red]")
    else:
        console.print("[green]all checks passed[/green]")


# ---- the command --------------------------------------------------------------------------------


def verify_command(
    url: Annotated[str, typer.Argument(help="The site, e.g. https://shop.example.com")],
    connect_to: Annotated[
        str | None,
        typer.Option(
            help="Connect to this address instead of resolving the name (SNI unchanged).",
            envvar="VERIFY_CONNECT_TO",
        ),
    ] = None,
    http_port: Annotated[
        int, typer.Option(help="Port of the plain-http redirect check.", envvar="VERIFY_HTTP_PORT")
    ] = 80,
    https_port: Annotated[
        int | None,
        typer.Option(
            help="HTTPS port when the URL names none (a rehearsal's loopback edge).",
            envvar="VERIFY_HTTPS_PORT",
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            help="Trust this CA bundle instead of the system's (test CAs).",
            exists=True,
            envvar="VERIFY_CA_FILE",
        ),
    ] = None,
    min_days: Annotated[
        float, typer.Option(help="Fail when the certificate has fewer days left.")
    ] = DEFAULT_MIN_DAYS,
    staging_pattern: Annotated[
        str, typer.Option(help="Regex on the issuer that marks a staging (untrusted) CA.")
    ] = DEFAULT_STAGING_ISSUER_PATTERN,
    signup: Annotated[
        bool, typer.Option(help="Sign up a verify+<random>@DOMAIN user (a database write).")
    ] = True,
    email_domain: Annotated[
        str | None, typer.Option(help="Domain of the sign-up address (default: the site's).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per connection or request.")] = 10.0,
    cleanup: Annotated[
        bool,
        typer.Option(
            help="Delete the sign-up's account in the database the environment configures "
            "(run it where the app runs: `docker compose run app wapang verify --cleanup ...`)."
        ),
    ] = False,
    env_file: Annotated[
        Path | None,
        typer.Option(help="Like --cleanup, with the deployment's settings read from this file."),
    ] = None,
) -> None:
    """Check a deployed site from the outside; exit 1 when any check fails."""
    console = Console()
    try:
        target = Target.from_url(url, connect_to, http_port, ca_file, timeout, https_port)
    except VerifyUsageError as error:
        console.print(f"[bold red]FAIL[/bold red] {error}", highlight=False)
        raise typer.Exit(2) from None
    database = _cleanup_settings(cleanup, env_file) if signup else None
    policy = Policy(min_days, staging_pattern, signup, email_domain, database)
    report = run_checks(target, policy)
    render(report, console)
    raise typer.Exit(0 if report.ok else 1)


def _cleanup_settings(cleanup: bool, env_file: Path | None) -> Settings | None:
    if not cleanup and env_file is None:
        return None
    return load_settings_or_exit(env_file)
