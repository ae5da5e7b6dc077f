"""A thin subprocess wrapper around the pinned certbot, plus parsing of its failures.

Every call gets the flags that make certbot deterministic here: --non-interactive,
--no-random-sleep-on-renew (else `renew` sleeps up to 8 minutes without a TTY), the three
directory flags (that is how it finds renewal/*.conf) and an XDG_CONFIG_HOME of our own (so no
stray ~/.config/letsencrypt/cli.ini leaks in).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

from wapang.edge.errors import CertbotError, CertbotNotFound
from wapang.edge.settings import EdgeSettings

_RATE_LIMIT_MARKERS = ("urn:ietf:params:acme:error:ratelimited", "too many ", "rate limit")
_RETRY_AFTER_TEXT = re.compile(
    r"retry after (\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})(?:\.\d+)?\s*(?:UTC|Z)?", re.IGNORECASE
)
_RETRY_AFTER_HEADER = re.compile(
    r"Retry-After['\"]?\s*[:=]\s*['\"]?([^'\"\r\n,]+(?:, [^'\"\r\n]+)?)"
)
_ERROR_LINE = re.compile(r"(?im)^(?:.*(?:error|detail|failed).*)$")


@dataclass(frozen=True)
class CertbotResult:
    args: list[str]
    returncode: int
    output: str  # stdout + stderr
    log_tail: str  # what this run appended to letsencrypt.log

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass(frozen=True)
class FailureInfo:
    summary: str
    rate_limited: bool
    retry_after: datetime | None


def parse_retry_after(text: str, now: datetime) -> datetime | None:
    """The latest Retry-After in certbot's output/log: the problem detail's "retry after
    <UTC time>" or the HTTP header (seconds or HTTP-date)."""
    found: list[datetime] = []
    for match in _RETRY_AFTER_TEXT.finditer(text):
        found.append(datetime.fromisoformat(match.group(1).replace(" ", "T")).replace(tzinfo=UTC))
    for match in _RETRY_AFTER_HEADER.finditer(text):
        value = match.group(1).strip()
        if value.isdigit():
            found.append(now + timedelta(seconds=int(value)))
            continue
        try:
            found.append(parsedate_to_datetime(value).astimezone(UTC))
        except (TypeError, ValueError):
            continue
    return max(found, default=None)


def parse_failure(text: str, now: datetime) -> FailureInfo:
    lowered = text.lower()
    rate_limited = any(marker in lowered for marker in _RATE_LIMIT_MARKERS)
    lines = [line.strip() for line in _ERROR_LINE.findall(text) if line.strip()]
    summary = lines[-1] if lines else (text.strip().splitlines() or ["certbot failed"])[-1]
    return FailureInfo(
        summary=summary[:500], rate_limited=rate_limited, retry_after=parse_retry_after(text, now)
    )


def resolve_binary(configured: str | None) -> str:
    """Settings first, then PATH, then the certbot installed beside this interpreter."""
    candidates = [configured] if configured else ["certbot"]
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    if not configured:
        beside = Path(sys.executable).parent / "certbot"
        if beside.exists():
            return str(beside)
    raise CertbotNotFound(
        f"certbot not found ({configured or 'PATH, then next to ' + sys.executable}); "
        "set CERTBOT_BIN or install the 'edge' dependency group"
    )


class Certbot:
    def __init__(self, settings: EdgeSettings) -> None:
        self.settings = settings
        self.binary = resolve_binary(settings.certbot_bin)

    # ---- plumbing ------------------------------------------------------------------------

    def _dir_flags(self) -> list[str]:
        s = self.settings
        return [
            "--config-dir", str(s.certbot_config_dir),
            "--work-dir", str(s.certbot_work_dir),
            "--logs-dir", str(s.certbot_logs_dir),
        ]  # fmt: skip

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["XDG_CONFIG_HOME"] = str(self.settings.certbot_work_dir / "xdg")
        if self.settings.acme_ca_bundle:
            env["REQUESTS_CA_BUNDLE"] = str(self.settings.acme_ca_bundle)
        return env

    def _log_file(self) -> Path:
        return self.settings.certbot_logs_dir / "letsencrypt.log"

    def run(self, subcommand: str, extra: list[str]) -> CertbotResult:
        for directory in (
            self.settings.certbot_config_dir,
            self.settings.certbot_work_dir / "xdg",
            self.settings.certbot_logs_dir,
        ):
            directory.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary, subcommand, "--non-interactive", "--no-random-sleep-on-renew",
            *self._dir_flags(), *extra,
        ]  # fmt: skip
        log_offset = self._log_file().stat().st_size if self._log_file().exists() else 0
        try:
            completed = subprocess.run(
                args,
                capture_output=True,
                text=True,
                env=self._env(),
                timeout=self.settings.certbot_timeout_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CertbotError(
                f"certbot {subcommand} timed out after {self.settings.certbot_timeout_seconds}s"
            ) from exc
        return CertbotResult(
            args=args,
            returncode=completed.returncode,
            output=(completed.stdout or "") + (completed.stderr or ""),
            log_tail=self._read_log_since(log_offset),
        )

    def _read_log_since(self, offset: int) -> str:
        path = self._log_file()
        if not path.exists():
            return ""
        with path.open("rb") as handle:
            if path.stat().st_size >= offset:
                handle.seek(offset)  # same file, appended to (else it was rotated: read it all)
            return handle.read().decode("utf-8", "replace")

    # ---- the commands the manager needs --------------------------------------------------

    def _account_flags(self) -> list[str]:
        email = self.settings.cert_email
        flags = ["--agree-tos"]
        flags += ["--email", email] if email else ["--register-unsafely-without-email"]
        return flags

    def _key_flags(self) -> list[str]:
        if self.settings.key_type == "ecdsa":
            return ["--key-type", "ecdsa", "--elliptic-curve", "secp256r1"]
        return ["--key-type", "rsa", "--rsa-key-size", "2048"]

    def certonly(self, server: str, *, dry_run: bool, renew: bool) -> CertbotResult:
        s = self.settings
        extra = [
            "--server", server, "--cert-name", s.lineage,
            "--webroot", "-w", str(s.webroot),
            *self._account_flags(), *self._key_flags(),
        ]  # fmt: skip
        for name in s.domains:
            extra += ["-d", name]
        if dry_run:
            extra.append("--dry-run")
        elif renew:
            # The manager has already decided that an order is due; certbot must not second-guess.
            extra.append("--force-renewal")
        return self.run("certonly", extra)

    def renew_dry_run(self) -> CertbotResult:
        """Proves the saved renewal configuration works. --server is required: without it a
        dry run always goes to Let's Encrypt staging (G3); certbot maps LE production to
        staging by itself."""
        s = self.settings
        return self.run("renew", ["--dry-run", "--cert-name", s.lineage, "--server", s.acme_server])


# ---- renewal configuration (renewal/<name>.conf, configobj syntax) ----------------------

_STANDALONE_ONLY_KEYS = ("http01_port", "http01_address", "webroot_path")


def renewal_param(conf_text: str, key: str) -> str | None:
    """A scalar of the [renewalparams] section, e.g. authenticator or server."""
    in_params = False
    for raw in conf_text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            in_params = line == "[renewalparams]"
            continue
        if in_params and "=" in line and not line.startswith("#"):
            name, value = (part.strip() for part in line.split("=", 1))
            if name == key:
                return value
    return None


def webroot_renewal_conf(conf_text: str, webroot: Path, names: list[str]) -> str:
    """The same renewal conf with the webroot authenticator for every name (the seed's
    standalone conf could never renew while nginx held port 80)."""
    head: list[str] = []
    params: list[str] = []
    tail: list[str] = []
    section = "head"
    for raw in conf_text.splitlines():
        line = raw.strip()
        if line == "[renewalparams]":
            section = "params"
            continue
        if line.startswith("[[") and section in ("params", "subsection"):
            section = "subsection"  # drop old [[webroot_map]] and friends: rebuilt below
            continue
        if line.startswith("[") and not line.startswith("[[") and section != "head":
            section = "tail"
        if section == "head":
            head.append(raw)
        elif section == "params":
            key = line.split("=", 1)[0].strip()
            if key == "authenticator" or key in _STANDALONE_ONLY_KEYS:
                continue
            params.append(raw)
        elif section == "tail":
            tail.append(raw)
    params += ["authenticator = webroot", f"webroot_path = {webroot},", "[[webroot_map]]"]
    params += [f"{name} = {webroot}" for name in names]
    return "\n".join([*head, "[renewalparams]", *params, *tail]) + "\n"
