"""The whole stack on a real Docker engine, in order: the images, a first deploy on an empty host
(the host-side half of cd.yml, then deploy.sh), a certificate from pebble, `wapang verify` from
the host, the seed's failures (a bad .env, 30 deploys of a release that never gets healthy), a
deploy and an automatic rollback (a release failing verify) under load, a renewal under load,
database and nginx restarts, the monitoring profile's Prometheus reading the app, the certificate
manager and the backup service, and the certificate volume removed between deploys. Every load
window asserts zero failed requests (while the database is down: nothing but the app's JSON
503s); tests/stack/load.py says what it resends, as a user agent does.

Figures (image sizes, build times, time to first certificate, deploy and rollback durations,
failed requests) are printed and written to $STACK_FIGURES (default: the test's temporary
directory)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from alembic.script import ScriptDirectory

from tests.stack.conftest import Engine, release
from tests.stack.load import Load, Site
from wapang.delivery.rehearse import throwaway_settings
from wapang.delivery.stack import (
    DEPLOY,
    ROOT,
    Docker,
    Rehearsal,
    compose_args,
    compose_env,
    fetch_pebble_root,
    prepare_host,
    wait_for_issued_certificate,
    with_env,
)
from wapang.edge.certificates import fetch_served_cert

DOMAIN = "shop.wapang.example"  # email_validator refuses .test for verify's sign-up
HTTP_PORT, HTTPS_PORT, MANAGEMENT_PORT = 21080, 21443, 21015
FAILING_DEPLOYS = int(os.environ.get("STACK_FAILING_DEPLOYS", "30"))
BUDGET = 1
SECRETS = throwaway_settings(DOMAIN)  # what the repository secrets hold for this host
MAINTENANCE_BODY = {"error_code": "ERR_503", "error_msg": "SERVICE UNAVAILABLE"}


@dataclass
class Host:
    """The EC2 instance of DEPLOY.md, played by this machine: /opt/wapang is a temp directory."""

    engine: Engine
    registry: str
    rehearsal: Rehearsal
    figures: dict[str, object] = field(default_factory=dict)

    @property
    def docker(self) -> Docker:
        return self.engine.docker

    @property
    def site(self) -> Site:
        return Site(HTTPS_PORT, DOMAIN, self.rehearsal.root_file)

    def compose(self, tag: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        docker = with_env(self.docker, compose_env(self.rehearsal, self.registry, tag))
        return docker.run(*compose_args(self.rehearsal), *args, check=check)

    def deploy(self, tag: str, env_text: str | None = None, **env: str) -> tuple[int, str, float]:
        """cd.yml's deploy job on the host: the .env from the secrets (or `env_text`, a .env
        written by hand as the seed did), the bundle copied to a private incoming directory,
        deploy.sh run there."""
        incoming = Path(self.engine.root / f"incoming-{tag}-{time.monotonic_ns()}")
        incoming.mkdir(mode=0o700)
        if env_text is None:
            write_env_as_cd_does(incoming / ".env")
        else:
            (incoming / ".env").write_text(env_text)
        for name in bundle_files():
            shutil.copy(DEPLOY / name, incoming / name)
        started = time.monotonic()
        result = subprocess.run(
            [
                *("bash", str(incoming / "deploy.sh"), "--registry", self.registry, "--tag", tag),
                *("--incoming", str(incoming), "--dir", str(self.rehearsal.deploy_dir)),
            ],
            env={**self.docker.env, "HEALTH_TIMEOUT": "60", "VERIFY_TIMEOUT": "180", **env},
            capture_output=True,
            text=True,
            timeout=600,
        )
        return result.returncode, result.stderr + result.stdout, time.monotonic() - started

    def ledger(self, tag: str) -> list[dict[str, object]]:
        """The certificate manager's ledger, wherever its settings put it."""
        script = (
            "from wapang.edge.settings import load_settings; p = load_settings().ledger_path; "
            "print(p.read_text() if p.exists() else '')"
        )
        out = self.compose(tag, "exec", "-T", "certbot", "python", "-c", script).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def production_orders(self, tag: str) -> int:
        entries = self.ledger(tag)
        return sum(
            1 for e in entries if e.get("kind") == "order" and e.get("production") and e.get("ok")
        )

    def verify_from_host(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                *(sys.executable, "-m", "wapang.cli", "verify", self.rehearsal.url),
                *("--connect-to", "127.0.0.1", "--http-port", str(HTTP_PORT)),
                *("--ca-file", str(self.rehearsal.root_file), "--no-signup"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )

    def app_containers(self, tag: str) -> list[str]:
        return self.compose(tag, "ps", "-q", "app").stdout.split()

    def image_of(self, container: str) -> str:
        return self.docker.run("inspect", "--format", "{{.Config.Image}}", container).stdout.strip()


def cd_deploy_step() -> dict[str, Any]:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "cd.yml").read_text())
    steps = workflow["jobs"]["deploy"]["steps"]
    return next(s for s in steps if s.get("name") == "Write .env from the repository secrets")


def write_env_as_cd_does(path: Path) -> None:
    """`wapang config write-env` with exactly the variables cd.yml maps from secrets (an unset
    secret arrives as an empty string, as on GitHub)."""
    names = list(cd_deploy_step()["env"])
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    env |= {name: SECRETS.get(name, "") for name in names}
    subprocess.run(
        [sys.executable, "-m", "wapang.cli", "config", "write-env", str(path)],
        env=env,
        check=True,
        capture_output=True,
    )


def bundle_files() -> list[str]:
    """What cd.yml copies beside the .env: `cp deploy/compose.yaml deploy/deploy.sh ...`."""
    run = str(cd_deploy_step()["run"])
    copy = next(line for line in run.splitlines() if line.strip().startswith("cp "))
    return [Path(word).name for word in copy.split() if word.startswith("deploy/")]


@pytest.fixture(scope="module")
def host(engine: Engine, registry: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    deploy_dir = tmp_path_factory.mktemp("opt-wapang")
    deploy_dir.chmod(0o755)
    rehearsal = Rehearsal(
        deploy_dir,
        DOMAIN,
        HTTP_PORT,
        HTTPS_PORT,
        MANAGEMENT_PORT,
        pebble_image=engine.base_images["PEBBLE_IMAGE"],
        db_image=engine.base_images.get("DB_IMAGE"),  # None: compose.yaml's pinned MySQL
        project="wapang",  # compose.yaml's own name, as deploy.sh runs it
        # A budget of one production order per window: the volume-removal test needs one cycle.
        certbot_env={"BUDGET_MAX_ORDERS": str(BUDGET)},
    )
    prepare_host(rehearsal)
    # compose.yaml and a .env only to start the ACME server; removed before the first deploy.
    shutil.copy(DEPLOY / "compose.yaml", deploy_dir / "compose.yaml")
    write_env_as_cd_does(deploy_dir / ".env")
    figures: dict[str, object] = {}
    stack = Host(engine, registry, rehearsal, figures)
    # The throwaway ACME server beside the stack (Let's Encrypt's place); deploy.sh never starts it.
    stack.compose("none", "up", "-d", "pebble", "pebble-staging")
    fetch_pebble_root(rehearsal)
    for name in ("compose.yaml", ".env"):  # an empty host: the first deploy brings them
        (deploy_dir / name).unlink()
    yield stack
    stack.compose("none", "down", "--volumes", "--timeout", "5", check=False)
    out = Path(os.environ.get("STACK_FIGURES", engine.root / "figures.json"))
    out.write_text(json.dumps(figures, indent=2, default=str))
    print(f"\nstack figures ({out}):\n{json.dumps(figures, indent=2, default=str)}")


# ---- the images -------------------------------------------------------------------------------


def test_images_build_run_unprivileged_with_healthchecks_and_hold_no_secret(host: Host) -> None:
    builds = release(host.engine, host.registry, "r1")
    host.figures["images"] = {
        b.image.rsplit("/", 1)[1]: {"MB": round(b.size_bytes / 1e6), "build_s": round(b.seconds, 1)}
        for b in builds
    }
    env_file = host.engine.root / "probe.env"
    write_env_as_cd_does(env_file)
    secret_values = [v for k, v in SECRETS.items() if "SECRET" in k or "PASSWORD" in k]
    for build in builds:
        config = json.loads(host.docker.run("image", "inspect", build.image).stdout)[0]["Config"]
        assert config["Healthcheck"]["Test"], f"{build.image} has no HEALTHCHECK"
        history = host.docker.run("history", "--no-trunc", build.image).stdout
        exported = _image_files(host.docker, build.image)
        for value in secret_values:
            assert value not in history, f"a .env value is in {build.image}'s history"
            assert value.encode() not in exported, f"a .env value is in {build.image}'s files"
    app = next(b.image for b in builds if "wapang-app" in b.image)
    # The installed package is this checkout (not a cached wheel of an older one).
    listing = host.docker.run(
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        app,
        "-c",
        "cd /opt/wapang/lib/python3.11/site-packages && find wapang -name '*.py' | sort"
        " | xargs sha256sum",
    ).stdout
    local = subprocess.run(
        "find wapang -name '*.py' -not -path '*/migrations/versions/__pycache__/*' | sort"
        " | xargs sha256sum",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert listing == local, "the app image does not hold this checkout's wapang package"
    user = host.docker.run("run", "--rm", "--entrypoint", "id", app, "-u").stdout.strip()
    assert user == "10001"
    # The image's own default (SQLite in its working directory) starts: no PermissionError.
    started = host.docker.run(
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        app,
        "-c",
        'timeout 8 wapang serve --port 8000 & sleep 5; python -c "import urllib.request;'
        "print(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status)\"",
    )
    assert started.stdout.strip().endswith("200"), started.stdout + started.stderr


def _image_files(docker: Docker, image: str) -> bytes:
    """Every regular file of the image's filesystem, concatenated (images are small here)."""
    container = docker.run("create", image).stdout.strip()
    try:
        tar = subprocess.run(
            [docker.client, "export", container],
            env=dict(docker.env),
            capture_output=True,
            check=True,
        ).stdout
    finally:
        docker.run("rm", container)
    import io

    chunks = []
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        for member in archive:
            if member.isfile() and member.size < 5_000_000:
                handle = archive.extractfile(member)
                if handle:
                    chunks.append(handle.read())
    return b"".join(chunks)


# ---- first deploy on an empty host ------------------------------------------------------------


def test_first_deploy_gets_a_certificate_from_pebble_and_passes_verify(host: Host) -> None:
    started = datetime.now().astimezone()
    code, output, seconds = host.deploy("r1")
    assert code == 0, output
    assert "all checks passed" in output  # deploy.sh's own verify, inside the stack
    orders = [e for e in host.ledger("r1") if e.get("kind") == "order" and e.get("production")]
    assert len(orders) == 1, orders
    dry_runs = [e for e in host.ledger("r1") if e.get("kind") == "dry_run"]
    assert dry_runs, "a staging dry run comes before the first production order"
    issued_at = datetime.fromisoformat(str(orders[0]["ts"]))
    host.figures["first_deploy_s"] = round(seconds, 1)
    host.figures["time_to_first_certificate_s"] = round((issued_at - started).total_seconds(), 1)
    # /readyz may answer one 503 on a pooled connection the database restart closed (noted in
    # the report of issue 20); it must be ready again within seconds.
    with host.site.client() as client:
        deadline = time.monotonic() + 30
        while host.site.request(client, "GET", "/readyz").status_code != 200:
            assert time.monotonic() < deadline, "/readyz stays 503 after the restore"
            time.sleep(1)
    verified = host.verify_from_host()
    assert verified.returncode == 0, verified.stdout
    # The host holds no nginx configuration: only compose files, .env and deploy state.
    assert not list(host.rehearsal.deploy_dir.rglob("*.conf*"))


def test_containers_run_hardened_and_the_apps_database_user_cannot_change_the_schema(
    host: Host,
) -> None:
    """compose.yaml's hardening as Docker applied it (security review finding 10)."""
    added = {
        "app": None, "nginx": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID"],
        "certbot": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"],
        "db": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID"],
    }  # fmt: skip
    for service, capabilities in added.items():
        (container,) = host.compose("r1", "ps", "-q", service).stdout.split()
        config = json.loads(host.docker.run("inspect", container).stdout)[0]["HostConfig"]
        assert "no-new-privileges:true" in config["SecurityOpt"], service
        assert config["CapDrop"] == ["ALL"], service
        granted = sorted(c if c.startswith("CAP_") else f"CAP_{c}" for c in config["CapAdd"] or [])
        assert granted == sorted(capabilities or []), service
        assert config["Memory"] > 0, service
        assert config["PidsLimit"] > 0, service
        assert config["ReadonlyRootfs"] is (service == "app"), service
    # The app never holds the migration user's password.
    (app,) = host.app_containers("r1")
    app_env = json.loads(host.docker.run("inspect", app).stdout)[0]["Config"]["Env"]
    assert "DB_MIGRATION_PASSWORD=" in app_env
    assert SECRETS["DB_MIGRATION_PASSWORD"] not in " ".join(app_env)

    def as_user(user: str, password: str, statement: str) -> subprocess.CompletedProcess[str]:
        return host.compose(
            "r1", "exec", "-T", "-e", f"MYSQL_PWD={password}", "db",
            "mysql", "-h", "db", "-u", user, SECRETS["DB_DATABASE"], "-e", statement,
            check=False,
        )  # fmt: skip

    app_user, app_password = SECRETS["DB_USER"], SECRETS["DB_PASSWORD"]
    dropped = as_user(app_user, app_password, "DROP TABLE users")
    assert dropped.returncode != 0
    assert "DROP command denied" in dropped.stderr, dropped.stderr
    assert as_user(app_user, app_password, "SELECT COUNT(*) FROM users").returncode == 0
    # The migration user made the schema: it owns DDL rights (checked without using them).
    ddl = as_user(SECRETS["DB_MIGRATION_USER"], SECRETS["DB_MIGRATION_PASSWORD"], "SHOW GRANTS")
    assert "ALL PRIVILEGES" in ddl.stdout, ddl.stdout + ddl.stderr


# ---- the seed's failures ----------------------------------------------------------------------


def test_an_env_without_driver_database_and_secrets_is_refused_before_anything_switches(
    host: Host,
) -> None:
    before = (host.rehearsal.deploy_dir / ".env").read_text()
    seed_env = (
        "".join(
            f"{k}={v}\n"
            for k, v in SECRETS.items()
            if k not in ("DB_DATABASE", "ACCESS_TOKEN_SECRET", "REFRESH_TOKEN_SECRET")
        )
        + "ENV=prod\nDB_DIALECT=mysql\n"
    )
    code, output, _ = host.deploy("r1", env_text=seed_env)
    assert code != 0
    assert "configuration rejected by check-config" in output
    for name in ("DB_DATABASE", "ACCESS_TOKEN_SECRET", "REFRESH_TOKEN_SECRET"):
        assert name in output, f"{name} not named:\n{output}"
    assert (host.rehearsal.deploy_dir / ".env").read_text() == before
    assert host.verify_from_host().returncode == 0


def test_deploy_under_load_has_zero_failed_requests_and_both_releases_answer(host: Host) -> None:
    release(host.engine, host.registry, "r2")
    old = host.app_containers("r1")
    with Load(host.site, rate=50) as load:
        time.sleep(3)
        code, output, seconds = host.deploy("r2")
        time.sleep(3)
    assert code == 0, output
    result = load.result
    host.figures["deploy_r1_to_r2"] = {
        "seconds": round(seconds, 1),
        "requests": result.sent,
        "failed": result.failed,
        "resent_after_keepalive_close": result.resent,
        "statuses": dict(result.statuses),
    }
    assert result.sent > 50 * seconds * 0.5, result
    new = host.app_containers("r2")
    assert set(new).isdisjoint(old)
    assert [host.image_of(c).rsplit(":", 1)[1] for c in new] == ["r2"]
    assert (host.rehearsal.deploy_dir / "current-tag").read_text().strip() == "r2"
    assert (host.rehearsal.deploy_dir / "previous-tag").read_text().strip() == "r1"
    assert "only, then the old app drains" in output, output  # the switch to the new one alone
    assert "old workers done" in output, output  # nginx's old workers exited, no drain timeout
    assert "still busy" not in output, output
    assert result.failed == 0, f"{result.summary()}\n{output}"
    assert load.items_stored() == result.created, "a write was lost or stored twice"


def _release_from_r2(host: Host, tag: str, app_dockerfile: str, base: str = "r2") -> None:
    """Release TAG: an app image derived from `base`'s by `app_dockerfile` (after its FROM line),
    base's other images under the new tag; pushed as CD pushes."""
    dockerfile = host.engine.root / f"{tag}.Dockerfile"
    dockerfile.write_text(f"FROM {host.registry}/wapang-app:{base}\n{app_dockerfile}")
    app = f"{host.registry}/wapang-app:{tag}"
    host.docker.run("build", "-q", "-t", app, "-f", str(dockerfile), str(host.engine.root))
    host.docker.run("push", app)
    for name in ("nginx", "certbot", "prometheus"):
        image = f"{host.registry}/wapang-{name}"
        host.docker.run("tag", f"{image}:{base}", f"{image}:{tag}")
        host.docker.run("push", f"{image}:{tag}")


def _serving(host: Host) -> list[str]:
    return [host.image_of(c).rsplit(":", 1)[1] for c in host.app_containers("r2")]


def test_releases_that_never_get_healthy_keep_r2_serving_and_order_no_certificate(
    host: Host,
) -> None:
    # `wapang serve` never answers; check-config and migrations pass, as in the seed.
    _release_from_r2(
        host,
        "r3",
        'ENTRYPOINT ["sh", "-c", "[ \\"$1 $2\\" = \\"wapang serve\\" ] && exec sleep 3600;'
        ' exec \\"$@\\"", "--"]\n',
    )
    orders_before = host.production_orders("r2")
    before = host.app_containers("r2")
    durations = []
    with Load(host.site, rate=10, max_seconds=FAILING_DEPLOYS * 60) as load:
        for _ in range(FAILING_DEPLOYS):
            # The test knows this image never answers: a short health gate keeps 30 deploys fast.
            code, output, seconds = host.deploy("r3", HEALTH_TIMEOUT="2")
            assert code != 0
            assert "the new app never became healthy" in output, output
            assert "the running containers were not touched" in output, output
            durations.append(seconds)
    host.figures["failing_deploys"] = {
        "count": FAILING_DEPLOYS,
        "seconds_each": [round(min(durations), 1), round(max(durations), 1)],
        "requests": load.result.sent,
        "failed": load.result.failed,
        "resent_after_keepalive_close": load.result.resent,
    }
    assert host.production_orders("r2") == orders_before
    assert host.app_containers("r2") == before, "the r2 app served on, never redeployed"
    assert _serving(host) == ["r2"]
    assert host.verify_from_host().returncode == 0
    assert load.result.failed == 0, load.result.summary()
    assert load.items_stored() == load.result.created, "a write was lost or stored twice"


def _log_time(output: str, marker: str) -> datetime:
    line = next(line for line in output.splitlines() if marker in line)
    return datetime.fromisoformat(line.split()[0])


def test_a_release_that_fails_verify_is_rolled_back_to_r2_under_load(host: Host) -> None:
    # Healthy, but a contract regression verify checks: sign-up answers 200 instead of 201.
    router = "/opt/wapang/lib/python3.11/site-packages/wapang/api/users/router.py"
    _release_from_r2(
        host,
        "r4",
        "USER root\n"
        "RUN sed -i 's/status_code=status.HTTP_201_CREATED/status_code=status.HTTP_200_OK/'"
        f" {router} && grep -q HTTP_200_OK {router}\n"
        "USER 10001:10001\n",
    )
    with Load(host.site, rate=50) as load:
        time.sleep(3)
        # One verify attempt: a contract failure does not heal by waiting.
        code, output, seconds = host.deploy("r4", VERIFY_TIMEOUT="1")
        time.sleep(3)
    assert code != 0
    assert "POST /api/users answered 200" in output, output
    assert "rolled back: r2 serves again" in output, output
    rollback = _log_time(output, "rolled back:") - _log_time(output, "ROLLBACK to r2")
    host.figures["deploy_r4_and_rollback"] = {
        "seconds": round(seconds, 1),
        "rollback_s": rollback.total_seconds(),
        "requests": load.result.sent,
        "failed": load.result.failed,
        "resent_after_keepalive_close": load.result.resent,
    }
    assert _serving(host) == ["r2"]
    assert (host.rehearsal.deploy_dir / "current-tag").read_text().strip() == "r2"
    assert host.verify_from_host().returncode == 0
    assert load.result.failed == 0, f"{load.result.summary()}\n{output}"
    assert load.items_stored() == load.result.created, "a write was lost or stored twice"


# ---- the certificate and restarts, under load ---------------------------------------------------


def _served_serial(host: Host) -> int:
    return fetch_served_cert("127.0.0.1", HTTPS_PORT, DOMAIN).serial


def test_a_renewal_is_served_after_nginx_t_with_zero_failed_requests(host: Host) -> None:
    before = _served_serial(host)
    with Load(host.site, rate=50) as load:
        time.sleep(2)
        # A forced renewal: the manager orders, writes the reload marker, and waits until nginx
        # (its watcher: `nginx -t`, then reload) serves the new serial.
        renewed = host.compose(
            "r2", "exec", "-T", "certbot", "wapang", "certs", "ensure", "--force", check=False
        )
        time.sleep(2)
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    after = _served_serial(host)
    assert after != before
    assert wait_for_issued_certificate(host.rehearsal, 10) >= 0  # chains to pebble's root
    nginx_log = host.compose("r2", "logs", "--since", "2m", "nginx").stdout
    assert "wapang-cert-watch: nginx reloaded" in nginx_log, nginx_log[-2000:]
    host.figures["renewal"] = {
        "requests": load.result.sent,
        "failed": load.result.failed,
        "resent_after_keepalive_close": load.result.resent,
    }
    assert load.result.failed == 0, load.result.summary()
    assert load.items_stored() == load.result.created, "a write was lost or stored twice"


def _state(host: Host, container: str) -> tuple[str, str]:
    started = host.docker.run(
        "inspect", "--format", "{{.State.StartedAt}} {{.RestartCount}}", container
    )
    first, second = started.stdout.split()
    return first, second


def test_a_database_restart_gives_json_503s_and_the_app_recovers_without_restarting(
    host: Host,
) -> None:
    apps = host.app_containers("r2")
    states = [_state(host, app) for app in apps]
    with Load(host.site, rate=20) as load:
        time.sleep(2)
        # A restart with an outage the load surely sees (`restart` alone can be over between two
        # requests): stopped until the app has answered a request without it, then started.
        host.compose("r2", "stop", "db")
        down = time.monotonic()
        while not load.result.statuses[503] and not load.result.failures:
            assert time.monotonic() - down < 30, "no request saw the database down"
            time.sleep(0.2)
        host.compose("r2", "start", "db")
        restarted = time.monotonic()
        recovered = None
        while time.monotonic() - restarted < 90:  # until requests have succeeded for 5 s
            time.sleep(1)
            last = load.result.failures[-1].at if load.result.failures else load.result.started
            if (datetime.now(UTC) - last).total_seconds() > 5:
                recovered = (last - load.result.started).total_seconds()
                break
    result = load.result
    host.figures["db_restart"] = {
        "requests": result.sent,
        "json_503": result.statuses[503],
        "statuses": dict(result.statuses),
    }
    assert recovered is not None, result.summary()
    assert result.statuses[503] > 0, "the database was down: some requests must have seen it"
    others = [str(f) for f in result.failures if not f.is_json_503]
    assert not others, f"not the app's JSON 503 (an nginx 502 or a dropped request): {others}"
    assert host.app_containers("r2") == apps
    assert [_state(host, app) for app in apps] == states, "the app was not restarted"


def test_an_nginx_restart_is_back_within_seconds_with_the_issued_certificate(host: Host) -> None:
    serial = _served_serial(host)
    started = time.monotonic()
    host.compose("r2", "restart", "nginx")
    wait_for_issued_certificate(host.rehearsal, 60)  # not the self-signed placeholder
    seconds = time.monotonic() - started
    host.figures["nginx_restart_s"] = round(seconds, 1)
    assert _served_serial(host) == serial
    assert host.verify_from_host().returncode == 0  # its own entrypoint: upstream "app" again
    assert seconds < 30


# ---- the monitoring profile -------------------------------------------------------------------


def _prometheus_query(host: Host, tag: str, query: str) -> list[dict[str, Any]]:
    """Prometheus's HTTP API, asked from inside its container (it publishes no port)."""
    script = (
        "import sys, urllib.parse, urllib.request; url = 'http://127.0.0.1:9090/api/v1/query?' "
        "+ urllib.parse.urlencode({'query': sys.argv[1]}); "
        "print(urllib.request.urlopen(url, timeout=5).read().decode())"
    )
    answer = host.compose(tag, "exec", "-T", "prometheus", "python3", "-c", script, query)
    result: list[dict[str, Any]] = json.loads(answer.stdout)["data"]["result"]
    return result


def _until_found(host: Host, tag: str, query: str, timeout: float = 120) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while not (found := _prometheus_query(host, tag, query)):
        assert time.monotonic() < deadline, f"prometheus never answered {query}"
        time.sleep(2)
    return found


def test_the_monitoring_profile_scrapes_the_app_the_certificates_and_the_backups(
    host: Host,
) -> None:
    tag = _serving_tag(host)
    # As DEPLOY.md tells an operator: the profile named on the host, then Prometheus started
    # (later deploys start it themselves, deploy.sh's start_monitoring).
    profiles = host.rehearsal.deploy_dir / "compose-profiles"
    profiles.write_text("selfhost,monitoring\n")
    started = time.monotonic()
    host.compose(tag, "up", "-d", "--no-deps", "--wait", "prometheus")
    up = _until_found(host, tag, 'up{job="app"}')
    host.figures["prometheus_first_app_series_s"] = round(time.monotonic() - started, 1)
    assert sorted(float(s["value"][1]) for s in up) == [1.0] * len(host.app_containers(tag)), up
    assert _until_found(host, tag, 'wapang_ready{job="app"} == 1')
    (expiry,) = _until_found(
        host, tag, f'wapang_certificate_expiration_timestamp_seconds{{name="{DOMAIN}"}}'
    )
    served = fetch_served_cert("127.0.0.1", HTTPS_PORT, DOMAIN).not_after.timestamp()
    # The manager's gauge is set by its own passes: a renewal forced from outside the loop
    # (an earlier test) is seen at its next pass, minutes apart from the one served here.
    assert time.time() < float(expiry["value"][1]), expiry
    assert abs(float(expiry["value"][1]) - served) < 86400, (expiry, served)
    (backup,) = _until_found(
        host, tag, 'wapang_backup_last_success_timestamp_seconds{job="backup"}'
    )
    newest = host.compose(
        tag, "exec", "-T", "backup", "python", "-c",
        "from pathlib import Path; from wapang.db.backup import latest; "
        "print(latest(Path('/var/lib/wapang/backups'))[1].created.timestamp())",
    ).stdout  # fmt: skip
    assert float(backup["value"][1]) == float(newest), (backup, newest)
    rules = _prometheus_query(host, tag, 'ALERTS{alertname="BackupTooOld"}')
    assert rules == [], "a backup of minutes ago is not too old"


def _orders_seen(host: Host, tag: str) -> set[tuple[object, object]]:
    """Production orders the budget counts (a forced renewal, by design, is outside it)."""
    return {
        (e["ts"], e.get("serial"))
        for e in host.ledger(tag)
        if e.get("kind") == "order" and e.get("production") and e.get("ok") and not e.get("forced")
    }


def test_a_backup_restores_every_order_after_the_database_volume_is_destroyed(
    host: Host,
) -> None:
    tag = _serving_tag(host)
    deadline = time.monotonic() + 120
    while (
        ".json"
        not in host.compose(
            tag, "exec", "-T", "backup", "ls", "/var/lib/wapang/backups", check=False
        ).stdout
    ):  # the service backs up at once on an empty volume
        logs = host.compose(tag, "logs", "backup", check=False)
        assert time.monotonic() < deadline, f"no scheduled backup: {logs.stdout}{logs.stderr}"
        time.sleep(2)
    buyer, before = _place_orders(host, 20)
    taken = host.compose(tag, "run", "--rm", "-T", "backup", "wapang", "db", "backup")
    backup_file = re.search(r"backup (\S+\.sql\.gz) ", taken.stdout)
    assert backup_file, taken.stdout
    assert f"release {tag}" in taken.stdout
    later_buyer, after = _place_orders(host, 5)  # after the backup: the restore takes them away
    started = time.monotonic()
    host.compose(tag, "rm", "--stop", "--force", "db")
    host.docker.run("volume", "rm", "wapang_db-data")
    host.compose(tag, "up", "-d", "--wait", "db", check=True)  # an empty database again
    # The host's entry point: maintenance on, `wapang db restore` in the backup service, off.
    with _ApiWatch(host) as watch:
        restored = _kept_script(host, "restore", backup_file[1], "--yes")
    host.figures["restore_after_volume_loss_s"] = round(time.monotonic() - started, 1)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert f"restored {Path(backup_file[1]).name}" in restored.stdout, restored.stdout
    assert watch.maintenance_answers > 0, f"no maintenance 503 while restoring: {watch.seen}"
    assert watch.last == 200, f"/api is not served again after the restore: {watch.seen[-5:]}"
    assert _orders_found(host, buyer, before) == before, "every order answered 201 is back"
    assert _orders_found(host, later_buyer, after) == []
    # /readyz may answer one 503 on a pooled connection the database restart closed (noted in
    # the report of issue 20); it must be ready again within seconds.
    with host.site.client() as client:
        deadline = time.monotonic() + 30
        while host.site.request(client, "GET", "/readyz").status_code != 200:
            assert time.monotonic() < deadline, "/readyz stays 503 after the restore"
            time.sleep(1)
    verified = host.verify_from_host()
    assert verified.returncode == 0, verified.stdout
    # A refused restore (no such backup) ends maintenance too, and names the reason.
    with _ApiWatch(host) as watch:
        refused = _kept_script(host, "restore", "/var/lib/wapang/backups/none.sql.gz", "--yes")
    assert refused.returncode != 0
    assert "none.sql.gz does not exist" in refused.stdout, refused.stdout + refused.stderr
    assert "maintenance OFF again" in refused.stderr, refused.stderr
    assert watch.last == 200, f"/api is not served again after a refused restore: {watch.seen}"


class _ApiWatch:
    """GET /api/items every 0.1 s while a command runs: what the site answered meanwhile."""

    def __init__(self, host: Host) -> None:
        self.site = host.site
        self.seen: list[tuple[int, str | None, str]] = []  # status, Retry-After, body
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> _ApiWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        with self.site.client() as client:  # the answer once the command has returned
            answer = self.site.request(client, "GET", "/api/items")
            self.seen.append((answer.status_code, answer.headers.get("retry-after"), ""))

    def _poll(self) -> None:
        with self.site.client() as client:
            while not self._stop.wait(0.1):
                try:
                    answer = self.site.request(client, "GET", "/api/items")
                except httpx.HTTPError as error:  # kept, never hidden: no answer at all
                    self.seen.append((0, None, type(error).__name__))
                    continue
                retry_after = answer.headers.get("retry-after")
                self.seen.append((answer.status_code, retry_after, answer.text[:100]))

    @property
    def maintenance_answers(self) -> int:
        """The edge's own maintenance answer (the app's 503 says Retry-After: 5)."""
        return sum(
            1
            for status, retry_after, body in self.seen
            if status == 503 and retry_after == "120" and json.loads(body) == MAINTENANCE_BODY
        )

    @property
    def last(self) -> int:
        return self.seen[-1][0]


def _kept_script(host: Host, *args: str) -> subprocess.CompletedProcess[str]:
    """The deploy.sh a deploy kept in the deploy directory, run by hand as an operator does."""
    deploy_dir = host.rehearsal.deploy_dir
    return subprocess.run(
        ["bash", str(deploy_dir / "deploy.sh"), *args, "--dir", str(deploy_dir)],
        env=dict(host.docker.env),
        capture_output=True,
        text=True,
        timeout=600,
    )


# ---- backups and restores (selfhost) ----------------------------------------------------------


def _serving_tag(host: Host) -> str:
    """The release serving; a run of this test alone (-k) deploys r1 first."""
    current = host.rehearsal.deploy_dir / "current-tag"
    if not current.exists():
        release(host.engine, host.registry, "r1")
        code, output, _ = host.deploy("r1")
        assert code == 0, output
    return current.read_text().strip()


def _place_orders(host: Host, count: int) -> tuple[str, list[str]]:
    """A buyer's `count` orders through the site; returns their token and the ids answered 201."""
    site, password = host.site, secrets.token_hex(8)
    with site.client() as client:

        def account(role: str) -> dict[str, str]:
            email = f"{role}+{secrets.token_hex(4)}@{DOMAIN}"
            body = {"email": email, "password": password}
            assert site.request(client, "POST", "/api/users", json=body).status_code == 201
            tokens = site.request(client, "POST", "/api/auth/tokens", json=body)
            return {"Authorization": f"Bearer {tokens.json()['access_token']}"}

        seller, buyer = account("seller"), account("buyer")
        store = site.request(
            client,
            "POST",
            "/api/stores",
            headers=seller,
            json={
                "store_name": f"backup{secrets.token_hex(3)}",
                "address": "loopback",
                "email": f"store+{secrets.token_hex(4)}@{DOMAIN}",
                "phone_number": f"010-5678-{secrets.randbelow(9000) + 1000}",
                "delivery_fee": 0,
            },
        )
        assert store.status_code == 201, store.text
        item = site.request(
            client,
            "POST",
            "/api/items",
            headers=seller,
            json={"item_name": "와플", "price": 3000, "stock": 1000},
        )
        assert item.status_code == 201, item.text
        ids = []
        for _ in range(count):
            order = {"items": [{"item_id": item.json()["id"], "quantity": 1}]}
            placed = site.request(client, "POST", "/api/orders", headers=buyer, json=order)
            assert placed.status_code == 201, placed.text
            ids.append(str(placed.json()["order_id"]))
    return buyer["Authorization"], ids


def _orders_found(host: Host, authorization: str, ids: list[str]) -> list[str]:
    with host.site.client() as client:
        return [
            order_id
            for order_id in ids
            if host.site.request(
                client, "GET", f"/api/orders/{order_id}", headers={"Authorization": authorization}
            ).status_code
            == 200
        ]


# ---- a migration under blue/green ---------------------------------------------------------------

VERSIONS = "/opt/wapang/lib/python3.11/site-packages/wapang/migrations/versions"
HEAD = ScriptDirectory(str(ROOT / "wapang" / "migrations")).get_current_head()

# One revision more than the serving release has, in the image's own versions directory.
EXPAND_REVISION = f"""
import sqlalchemy as sa
from alembic import op

revision = "e1a2b3c4d5e6"
down_revision = "{HEAD}"


def upgrade() -> None:
    op.add_column("items", sa.Column("expand_probe", sa.String(40), nullable=True))
    op.create_index("ix_items_expand_probe", "items", ["expand_probe"])


def downgrade() -> None:
    op.drop_index("ix_items_expand_probe", table_name="items")
    op.drop_column("items", "expand_probe")
"""
CONTRACT_WITHOUT_EXPAND = f"""
from alembic import op

revision = "c0ffee000001"
down_revision = "{HEAD}"


def upgrade() -> None:
    op.drop_column("items", "deleted_at")


def downgrade() -> None:
    raise NotImplementedError
"""


def _release_with_revision(host: Host, base: str, tag: str, revision: str) -> None:
    (host.engine.root / f"{tag}_revision.py").write_text(revision)
    _release_from_r2(host, tag, f"COPY {tag}_revision.py {VERSIONS}/{tag}_revision.py\n", base)


def _database(host: Host, tag: str, statement: str) -> str:
    """A query as the app's own database user (SELECT rights are all it needs)."""
    return host.compose(
        tag, "exec", "-T", "-e", f"MYSQL_PWD={SECRETS['DB_PASSWORD']}", "db",
        "mysql", "-N", "-h", "db", "-u", SECRETS["DB_USER"], SECRETS["DB_DATABASE"],
        "-e", statement,
    ).stdout.strip()  # fmt: skip


def _answered_by(
    host: Host, tag: str, upstream: str, after: datetime, before: datetime
) -> dict[str, int]:
    """What nginx's JSON access log says `upstream` answered strictly between two log times
    (whole seconds: a request in the second the migration ended is not counted)."""
    logs = host.compose(tag, "logs", "--no-log-prefix", "--since", "10m", "nginx").stdout
    counted: dict[str, int] = {}
    for line in logs.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        at = datetime.fromisoformat(entry["time"])
        if entry["upstream_addr"] == upstream and after < at < before:
            key = f"{entry['method']} {entry['status']}"
            counted[key] = counted.get(key, 0) + 1
    return counted


def test_a_contract_step_without_its_expand_is_refused_before_migrating(host: Host) -> None:
    base = _serving_tag(host)
    before = _database(host, base, "SELECT version_num FROM alembic_version")
    _release_with_revision(host, base, "r5", CONTRACT_WITHOUT_EXPAND)
    code, output, _ = host.deploy("r5")
    assert code != 0
    assert "c0ffee000001: drops column items.deleted_at" in output, output
    assert "check-migrations refused the pending migrations" in output, output
    assert "migrating the database" not in output, output
    assert _database(host, base, "SELECT version_num FROM alembic_version") == before
    assert _serving(host) == [base]


def test_an_expand_migration_deploys_under_load_and_the_old_release_serves_on_the_new_schema(
    host: Host,
) -> None:
    base = _serving_tag(host)
    _release_with_revision(host, base, "r6", EXPAND_REVISION)
    (old,) = host.app_containers(base)
    old_ip = host.docker.run(
        "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", old
    ).stdout.strip()
    with Load(host.site, rate=50) as load:
        time.sleep(3)
        code, output, seconds = host.deploy("r6")
        time.sleep(3)
    assert code == 0, output
    assert "backing up before migrating" in output, output  # selfhost, a migration pending
    # Applied: the release's head, the column and its index.
    assert _database(host, "r6", "SELECT version_num FROM alembic_version") == "e1a2b3c4d5e6"
    assert "expand_probe" in _database(host, "r6", "SHOW COLUMNS FROM items LIKE 'expand_probe'")
    assert "ix_items_expand_probe" in _database(host, "r6", "SHOW INDEX FROM items")
    # Between the end of the migration and nginx's switch to the new app, the old release alone
    # served: its reads and writes on the new schema, from the edge's access log.
    migrated = _log_time(output, "new app container")
    switched = _log_time(output, "only, then the old app drains")
    by_old = _answered_by(host, "r6", f"{old_ip}:8000", migrated, switched)
    host.figures["deploy_expand_migration"] = {
        "seconds": round(seconds, 1),
        "requests": load.result.sent,
        "failed": load.result.failed,
        "resent_after_keepalive_close": load.result.resent,
        "old_release_after_migration": by_old,
    }
    assert by_old.get("GET 200", 0) > 0, (by_old, output)
    assert by_old.get("POST 201", 0) > 0, (by_old, output)
    assert not {k for k in by_old if not k.endswith((" 200", " 201"))}, by_old
    assert _serving(host) == ["r6"]
    assert load.result.failed == 0, f"{load.result.summary()}\n{output}"
    assert load.items_stored() == load.result.created, "a write was lost or stored twice"


# ---- last: it leaves the edge without a certificate ---------------------------------------------


def test_removing_the_certificate_volume_between_deploys_orders_no_more_than_the_budget(
    host: Host,
) -> None:
    tag = _serving_tag(host)
    seen = _orders_seen(host, tag)
    assert len(seen) <= BUDGET
    for name in ("certbot", "nginx"):
        host.compose(tag, "rm", "--stop", "--force", name)
    host.docker.run("volume", "rm", "--force", "wapang_certs")
    # Its outcome is the certs issue's; counted: orders. The manager decides on its first pass,
    # seconds after it starts: 30 s of verify retries leave it ample time to (wrongly) order.
    host.deploy(tag, VERIFY_TIMEOUT="30")
    seen |= _orders_seen(host, tag)
    assert len(seen) <= BUDGET, f"{len(seen)} production orders for a budget of {BUDGET}"
