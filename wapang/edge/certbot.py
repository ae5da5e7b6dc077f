"""A thin subprocess wrapper around the pinned certbot, plus parsing of its failures.

Every call gets the flags that make certbot deterministic here: --non-interactive,
--no-random-sleep-on-renew (else `renew` sleeps up to 8 minutes without a TTY), the three
directory flags (that is how it finds renewal/*.conf) and an XDG_CONFIG_HOME of our own (so no
stray ~/.config/letsencrypt/cli.ini leaks in).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

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
_ACME_ERROR = "urn:ietf:params:acme:error:"
# certbot's own report of failed challenges: "Domain: x / Type: connection / Detail: ..."
_CHALLENGE_BLOCK = re.compile(
    r"^\s*Domain:\s*(?P<name>\S+)\s*\n\s*Type:\s*(?P<type>\S+)\s*\n\s*Detail:\s*(?P<detail>.+)$",
    re.MULTILINE,
)
_UNEXPECTED = re.compile(r"An unexpected error occurred:\s*\n(?P<detail>.+)")
# certbot's boilerplate around every failure: never the reason.
_NOISE = ("ask for help", "donating to", "see the logfile", "re-run certbot", "saving debug log")


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
    problems: list[dict[str, str]] = field(default_factory=list)


def _problem(name: str, kind: str, detail: str) -> dict[str, str]:
    short = kind.removeprefix(_ACME_ERROR)
    return {"name": name, "type": short, "detail": " ".join(detail.split())[:400]}


def _json_objects(text: str) -> list[dict[str, object]]:
    """Every JSON object certbot's debug log printed (ACME responses: problems, authzs)."""
    decoder = json.JSONDecoder()
    found = []
    for match in re.finditer(r"\{\s*\"", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def _problems_from_json(value: dict[str, object]) -> list[dict[str, str]]:
    problems = []
    identifier = value.get("identifier")
    name = identifier.get("value", "") if isinstance(identifier, dict) else ""
    kind, detail = value.get("type"), value.get("detail")
    if isinstance(kind, str) and kind.startswith(_ACME_ERROR) and isinstance(detail, str):
        problems.append(_problem(str(name), kind, detail))
    challenges = value.get("challenges")
    for challenge in challenges if isinstance(challenges, list) else []:
        error = challenge.get("error") if isinstance(challenge, dict) else None
        if isinstance(error, dict) and isinstance(error.get("type"), str):
            problems.append(_problem(str(name), str(error["type"]), str(error.get("detail", ""))))
    subproblems = value.get("subproblems")
    for sub in subproblems if isinstance(subproblems, list) else []:
        if isinstance(sub, dict):
            problems.extend(_problems_from_json(sub))
    return problems


def parse_problems(text: str) -> list[dict[str, str]]:
    """The CA's problem type and detail for each name, from certbot's output and debug log;
    else the client-side error certbot reports (e.g. the CA unreachable)."""
    problems = [
        _problem(match["name"], match["type"], match["detail"])
        for match in _CHALLENGE_BLOCK.finditer(text)
    ]
    for value in _json_objects(text):
        problems.extend(_problems_from_json(value))
    if not problems:
        problems = [_problem("", "client", match["detail"]) for match in _UNEXPECTED.finditer(text)]
    unique: dict[tuple[str, str, str], dict[str, str]] = {}
    for problem in problems:
        unique.setdefault((problem["name"], problem["type"], problem["detail"]), problem)
    # A problem naming its identifier makes the same anonymous one redundant.
    named_details = {p["detail"] for p in unique.values() if p["name"]}
    return [p for p in unique.values() if p["name"] or p["detail"] not in named_details]


def describe_problems(problems: list[dict[str, str]]) -> str:
    return "; ".join(
        f"{p['name'] + ': ' if p['name'] else ''}{p['type']}: {p['detail']}" for p in problems
    )


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
    problems = parse_problems(text)
    if problems:
        summary = describe_problems(problems)
    else:
        lines = [
            line.strip()
            for line in _ERROR_LINE.findall(text)
            if line.strip() and not line.strip().lower().startswith(_NOISE)
        ]
        summary = lines[-1] if lines else "certbot failed without saying why (see its log)"
    return FailureInfo(
        summary=summary[:1000],
        rate_limited=rate_limited,
        retry_after=parse_retry_after(text, now),
        problems=problems,
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
        settings = self.settings
        return [
            *("--config-dir", str(settings.certbot_config_dir)),
            *("--work-dir", str(settings.certbot_work_dir)),
            *("--logs-dir", str(settings.certbot_logs_dir)),
        ]

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
        args = [self.binary, subcommand, "--non-interactive", "--no-random-sleep-on-renew"]
        args += [*self._dir_flags(), *extra]
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

    def _profile_flags(self) -> list[str]:
        # required, not preferred: an explicit CERT_PROFILE the CA lacks must fail loudly (the
        # preflight checks the directory first, so it fails before any order).
        profile = self.settings.cert_profile
        return ["--required-profile", profile] if profile else []

    def certonly(self, server: str, lineage: str, *, dry_run: bool, renew: bool) -> CertbotResult:
        extra = [
            *("--server", server),
            *("--cert-name", lineage),
            *("--webroot", "-w", str(self.settings.webroot)),
            *self._account_flags(),
            *self._key_flags(),
            *self._profile_flags(),
        ]
        for name in self.settings.domains:
            extra += ["-d", name]
        if dry_run:
            extra.append("--dry-run")
        elif renew:
            # The manager has already decided that an order is due; certbot must not second-guess.
            extra.append("--force-renewal")
        return self.run("certonly", extra)

    def renew_dry_run(self, lineage: str) -> CertbotResult:
        """Proves the saved renewal configuration works, against the STAGING directory: certbot
        itself sends a dry run to staging only when the server is Let's Encrypt's production
        URL (set_test_server_options); for any other CA a dry run with its own URL would be a
        real production order."""
        staging = self.settings.acme_staging_server
        return self.run("renew", ["--dry-run", "--cert-name", lineage, "--server", staging])


# ---- renewal configuration (renewal/<name>.conf, read and written with configobj) -------

_STANDALONE_ONLY_KEYS = ("http01_port", "http01_address", "webroot_path", "webroot_map")


def _conf(conf_text: str) -> Any:
    # certbot's own parser; imported here: the app image has no edge group
    from configobj import ConfigObj  # type: ignore[import-untyped]

    return ConfigObj(conf_text.splitlines(), encoding="utf-8", default_encoding="utf-8")


def conf_value(conf_text: str, key: str, section: str | None = "renewalparams") -> str | None:
    """A scalar of the [renewalparams] section (or of the top level with section=None)."""
    conf = _conf(conf_text)
    scope = conf if section is None else conf.get(section, {})
    value = scope.get(key)
    return value if isinstance(value, str) else None


def renewal_param(conf_text: str, key: str) -> str | None:
    """A scalar of the [renewalparams] section, e.g. authenticator or server."""
    return conf_value(conf_text, key)


def switch_to_webroot(conf: Path, webroot: Path, names: list[str]) -> str | None:
    """Rewrite a renewal conf that does not use the webroot (atomically); returns the
    authenticator it used, or None when it was webroot already or does not exist."""
    if not conf.exists():
        return None
    text = conf.read_text()
    authenticator = renewal_param(text, "authenticator")
    if authenticator == "webroot":
        return None
    temporary = conf.with_suffix(".conf.wapang-tmp")
    temporary.write_text(webroot_renewal_conf(text, webroot, names))
    os.replace(temporary, conf)
    return str(authenticator)  # "None" when the conf named none


def webroot_renewal_conf(conf_text: str, webroot: Path, names: list[str]) -> str:
    """The same renewal conf with the webroot authenticator for every name (the seed's
    standalone conf could never renew while nginx held port 80)."""
    conf = _conf(conf_text)
    params = conf.setdefault("renewalparams", {})
    for key in _STANDALONE_ONLY_KEYS:
        params.pop(key, None)
    params["authenticator"] = "webroot"
    params["webroot_path"] = [str(webroot)]
    params["webroot_map"] = {name: str(webroot) for name in names}
    conf.encoding = None  # write str lines, not bytes
    lines: list[str] = conf.write()
    return "\n".join(lines) + "\n"
