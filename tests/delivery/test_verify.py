"""`wapang verify` against real nginx (wapang/edge/nginx_templates) in front of the real API, on
loopback: it passes on a good deploy and fails, with the reason, on each broken one."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.databases import TEST_SECRETS
from tests.servers import LOOPBACK
from wapang.cli import app as cli
from wapang.config import Settings
from wapang.db.migrate import upgrade
from wapang.delivery.verify import Policy, Report, Target, run_checks
from wapang.edge.manager import Manager

from .conftest import SITE, App, EdgeStarter, LocalEdge
from .pki import Authority, issue, make_authority


@pytest.fixture(scope="module")
def production_ca() -> Authority:
    return make_authority("wapang test production CA")


@pytest.fixture
def ca_file(production_ca: Authority, tmp_path: Path) -> Path:
    return production_ca.write(tmp_path / "ca.pem")


def verify(edge: LocalEdge, ca_file: Path, **policy: object) -> Report:
    target = Target.from_url(
        edge.url, connect_to=LOOPBACK, http_port=edge.http_port, ca_file=ca_file, timeout=5
    )
    return run_checks(target, Policy(**policy))  # type: ignore[arg-type]


def failures(report: Report) -> dict[str, str]:
    return {check.name: check.detail for check in report.checks if not check.ok}


def cli_verify(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["verify", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


# ---- passing deploys ---------------------------------------------------------------------------


def test_passes_on_a_good_deploy(
    start_edge: EdgeStarter, api_app: App, production_ca: Authority, ca_file: Path, tmp_path: Path
) -> None:
    edge = start_edge(issue(production_ca, [SITE], tmp_path / "tls"), api_app.port)
    code, output = cli_verify(edge.args(ca_file))
    assert code == 0, output
    for check in ("TLS chain and name", "production issuer", "days left", "http → https"):
        assert check in output
    assert "all checks passed" in output
    assert "verify+" in output
    assert "201" in output


@pytest.mark.edge
def test_passes_with_a_certificate_issued_by_the_manager_through_pebble(
    make_edge, api_app: App
) -> None:  # type: ignore[no-untyped-def]
    edge = make_edge(domain=SITE, upstream=f"{LOOPBACK}:{api_app.port}")
    outcome = Manager(edge.settings).ensure()
    assert outcome.action == "issued", outcome
    s = edge.settings
    code, output = cli_verify(
        [
            f"https://{SITE}:{s.https_port}",
            "--connect-to",
            LOOPBACK,
            "--http-port",
            str(s.http_port),
            "--ca-file",
            str(edge.root_ca),
        ]
    )
    assert code == 0, output
    assert "Pebble Intermediate CA" in output


# ---- each broken deploy fails with its reason --------------------------------------------------


def test_fails_on_plain_http(api_app: App, ca_file: Path) -> None:
    plain = LocalEdge(SITE, http_port=api_app.port, https_port=api_app.port)  # no TLS at all
    report = verify(plain, ca_file)
    assert "TLS handshake failed" in failures(report)["TLS chain and name"]
    assert not report.ok
    code, output = cli_verify([f"http://{SITE}"])
    assert code == 2
    assert "not an https:// URL" in output


def test_fails_on_a_certificate_for_another_name(
    start_edge: EdgeStarter, api_app: App, production_ca: Authority, ca_file: Path, tmp_path: Path
) -> None:
    tls = issue(production_ca, ["other.wapang.example"], tmp_path / "tls")
    edge = start_edge(tls, api_app.port)
    failed = failures(verify(edge, ca_file))
    assert "Hostname mismatch" in failed["TLS chain and name"]
    code, output = cli_verify(edge.args(ca_file))
    assert code == 1
    assert "FAIL" in output
    assert "Hostname mismatch" in output


def test_fails_on_a_staging_certificate(
    start_edge: EdgeStarter, api_app: App, tmp_path: Path
) -> None:
    staging = make_authority("(STAGING) Pretend Pear X1")
    edge = start_edge(issue(staging, [SITE], tmp_path / "tls"), api_app.port)
    failed = failures(verify(edge, staging.write(tmp_path / "staging.pem")))
    assert list(failed) == ["production issuer"]
    assert "staging certificate" in failed["production issuer"]


def test_staging_pattern_is_configurable(
    start_edge: EdgeStarter, api_app: App, tmp_path: Path
) -> None:
    odd = make_authority("Acme Test Issuer")
    edge = start_edge(issue(odd, [SITE], tmp_path / "tls"), api_app.port)
    report = verify(edge, odd.write(tmp_path / "odd.pem"), staging_issuer_pattern="Test Issuer")
    assert list(failures(report)) == ["production issuer"]


def test_fails_on_a_certificate_expiring_in_three_days(
    start_edge: EdgeStarter, api_app: App, production_ca: Authority, ca_file: Path, tmp_path: Path
) -> None:
    edge = start_edge(issue(production_ca, [SITE], tmp_path / "tls", days=3), api_app.port)
    failed = failures(verify(edge, ca_file))
    assert list(failed) == ["days left"]
    assert "under 14" in failed["days left"]
    assert not failures(verify(edge, ca_file, min_days=2))  # the threshold is an option


def test_fails_without_hsts(
    start_edge: EdgeStarter, api_app: App, production_ca: Authority, ca_file: Path, tmp_path: Path
) -> None:
    edge = start_edge(issue(production_ca, [SITE], tmp_path / "tls"), api_app.port, hsts=False)
    failed = failures(verify(edge, ca_file))
    assert list(failed) == ["HSTS"]
    assert "no Strict-Transport-Security" in failed["HSTS"]


def test_fails_when_the_database_is_down(
    start_edge: EdgeStarter,
    db_down_app: App,
    production_ca: Authority,
    ca_file: Path,
    tmp_path: Path,
) -> None:
    edge = start_edge(issue(production_ca, [SITE], tmp_path / "tls"), db_down_app.port)
    failed = failures(verify(edge, ca_file))
    assert list(failed) == ["/readyz", "sign-up (database write)"]
    assert "503" in failed["/readyz"]
    assert "database" in failed["/readyz"]
    assert "503" in failed["sign-up (database write)"]


def test_fails_when_nothing_listens(ca_file: Path) -> None:
    from tests.servers import free_port

    port = free_port()
    report = verify(LocalEdge(SITE, port, port), ca_file)
    assert "cannot connect" in failures(report)["TLS chain and name"]
    assert not report.ok


def test_never_prints_the_sign_up_password(
    start_edge: EdgeStarter, api_app: App, production_ca: Authority, ca_file: Path, tmp_path: Path
) -> None:
    edge = start_edge(issue(production_ca, [SITE], tmp_path / "tls"), api_app.port)
    code, output = cli_verify(edge.args(ca_file))
    assert code == 0
    assert "password" not in output.lower()


# ---- clean-up: the probe account is deleted where the site wrote it ----------------------------


def write_env_file(path: Path, database: Path) -> Path:
    lines = {"ENV": "test", "DB_DIALECT": "sqlite", "DB_DATABASE": str(database), **TEST_SECRETS}
    path.write_text("".join(f"{key}={value}\n" for key, value in lines.items()))
    return path


def probe_email(report: Report) -> str:
    signup = next(check for check in report.checks if check.name == "sign-up (database write)")
    return signup.detail.removeprefix("201: created ")


def accounts(database: Path, email: str) -> int:
    with closing(sqlite3.connect(database)) as connection:
        (count,) = connection.execute(
            "SELECT COUNT(*) FROM users WHERE email = ?", (email,)
        ).fetchone()
    return int(count)


def test_cleanup_deletes_the_probe_account_in_the_deployed_database(
    start_edge: EdgeStarter,
    api_app: App,
    delivery_root: Path,
    production_ca: Authority,
    ca_file: Path,
    tmp_path: Path,
) -> None:
    edge = start_edge(issue(production_ca, [SITE], tmp_path / "tls"), api_app.port)
    database = delivery_root / "verify.db"  # the api_app's database
    settings = Settings.load(write_env_file(tmp_path / "deployed.env", database))

    report = verify(edge, ca_file, cleanup=settings)

    assert report.ok, failures(report)
    email = probe_email(report)
    assert email.startswith("verify+")
    assert "found and deleted" in report.checks[-1].detail
    assert accounts(database, email) == 0


def test_cleanup_fails_when_the_site_writes_to_another_database(
    start_edge: EdgeStarter,
    api_app: App,
    production_ca: Authority,
    ca_file: Path,
    tmp_path: Path,
) -> None:
    edge = start_edge(issue(production_ca, [SITE], tmp_path / "tls"), api_app.port)
    elsewhere = write_env_file(tmp_path / "other.env", tmp_path / "other.db")
    upgrade(Settings.load(elsewhere))  # a valid, empty wapang database

    code, output = cli_verify([*edge.args(ca_file), "--env-file", str(elsewhere)])

    assert code == 1, output
    assert "another database" in output
    assert "1 check(s) failed" in output


def test_cleanup_with_an_invalid_configuration_names_every_problem(
    api_app: App, ca_file: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.env"
    broken.write_text("ENV=prod\nDB_DIALECT=mysql\nACCESS_TOKEN_SECRET=hunter2-tiny\n")

    code, output = cli_verify(
        [f"https://{SITE}", "--ca-file", str(ca_file), "--env-file", str(broken)]
    )

    assert code == 2, output
    for setting in ("DB_HOST", "DB_USER", "REFRESH_TOKEN_SECRET", "ACCESS_TOKEN_SECRET"):
        assert setting in output
    assert "hunter2-tiny" not in output  # the secret itself is never printed
