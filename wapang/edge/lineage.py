"""certbot's lineages on disk: find them, repair broken live/ links, adopt `-000N` siblings,
and read every certificate archive/ still holds (the history no loss can erase).

certbot's layout: `renewal/<name>.conf` names the lineage; `archive/<name>/certN.pem`,
`chainN`, `fullchainN`, `privkeyN` hold every version it saved; `live/<name>/*.pem` are
relative symlinks to the current version. When live/ is lost, certbot refuses the lineage
("expected … to be a symlink") and saves the next certificate as a new lineage `<name>-0001`:
repairing the links first means no new order and no new lineage.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from wapang.edge.certbot import conf_value
from wapang.edge.certificates import CertInfo, cert_info, load_cert

log = logging.getLogger("wapang.edge")

KINDS = ("cert", "chain", "fullchain", "privkey")

RETIRED_SUFFIX = ".wapang-retired"
_VERSION = re.compile(r"^cert(\d+)\.pem$")


@dataclass(frozen=True)
class Lineage:
    name: str
    config_dir: Path

    @property
    def renewal_conf(self) -> Path:
        return self.config_dir / "renewal" / f"{self.name}.conf"

    @property
    def live_dir(self) -> Path:
        return self.config_dir / "live" / self.name

    @property
    def archive_dir(self) -> Path:
        """archive_dir from the renewal conf (certbot writes it), else the default place."""
        if self.renewal_conf.exists():
            configured = conf_value(self.renewal_conf.read_text(), "archive_dir", section=None)
            if configured:
                return Path(configured)
        return self.config_dir / "archive" / self.name

    def renewal_param(self, key: str) -> str | None:
        """A [renewalparams] value of the renewal conf (authenticator, server), if it exists."""
        conf = self.renewal_conf
        return conf_value(conf.read_text(), key) if conf.exists() else None

    def cert(self) -> CertInfo | None:
        try:
            return load_cert(self.live_dir / "cert.pem")
        except (OSError, ValueError):
            return None

    def versions(self) -> list[int]:
        """Versions with all four files in archive/, oldest first."""
        if not self.archive_dir.is_dir():
            return []
        found = []
        for entry in self.archive_dir.iterdir():
            match = _VERSION.match(entry.name)
            if match and all(
                (self.archive_dir / f"{kind}{match[1]}.pem").exists() for kind in KINDS
            ):
                found.append(int(match[1]))
        return sorted(found)

    def links_ok(self) -> bool:
        return all(
            (self.live_dir / f"{kind}.pem").is_symlink()
            and (self.live_dir / f"{kind}.pem").exists()
            for kind in KINDS
        )

    def repair_links(self) -> str | None:
        """Recreate live/<name>/*.pem as certbot does (relative links to the newest complete
        version) when any is missing, dangling or not a link. Returns what was done."""
        if self.links_ok():
            return None
        versions = self.versions()
        if not versions:
            return None
        latest = versions[-1]
        self.live_dir.mkdir(parents=True, exist_ok=True)
        for kind in KINDS:
            link = self.live_dir / f"{kind}.pem"
            target = os.path.relpath(self.archive_dir / f"{kind}{latest}.pem", self.live_dir)
            temporary = link.with_name(link.name + ".wapang-tmp")
            if temporary.is_symlink() or temporary.exists():
                temporary.unlink()
            temporary.symlink_to(target)
            os.replace(temporary, link)
        log.warning("live/%s was broken; relinked to archive version %d", self.name, latest)
        return f"live/{self.name} was missing or broken; relinked to archive version {latest}"


def lineage_family(config_dir: Path, base: str) -> list[Lineage]:
    """`<base>` and certbot's `<base>-000N` siblings that have a renewal conf."""
    renewal = config_dir / "renewal"
    if not renewal.is_dir():
        return []
    pattern = re.compile(rf"^{re.escape(base)}(-\d{{4}})?\.conf$")
    names = sorted(
        entry.name[: -len(".conf")] for entry in renewal.iterdir() if pattern.match(entry.name)
    )
    return [Lineage(name, config_dir) for name in names]


def choose(
    lineages: list[Lineage],
    names: frozenset[str],
    is_staging: Callable[[Lineage, CertInfo], bool],
) -> Lineage | None:
    """The lineage to serve: exactly DOMAINS, production before staging, latest expiry."""
    ranked = [
        ((not is_staging(lineage, cert), cert.not_after), lineage)
        for lineage in lineages
        if (cert := lineage.cert()) is not None and cert.names == names
    ]
    return max(ranked, key=lambda pair: pair[0])[1] if ranked else None


def retire(lineage: Lineage, adopted: Lineage) -> str:
    """Take a superseded lineage out of `certbot renew` (which would renew it too, spending
    the budget twice) without deleting anything."""
    target = lineage.renewal_conf.with_name(lineage.renewal_conf.name + RETIRED_SUFFIX)
    os.replace(lineage.renewal_conf, target)
    log.warning("lineage %s superseded by %s; %s renamed", lineage.name, adopted.name, target)
    return f"lineage {lineage.name} superseded by {adopted.name}; renewal conf: {target.name}"


def archived_certificates(config_dir: Path) -> list[tuple[Path, CertInfo]]:
    """Every certificate certbot ever saved under archive/ (any lineage, retired too)."""
    archive = config_dir / "archive"
    if not archive.is_dir():
        return []
    found = []
    for directory in sorted(archive.iterdir()):
        if not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir()):
            if not _VERSION.match(entry.name):
                continue
            try:
                found.append((entry, cert_info(x509.load_pem_x509_certificate(entry.read_bytes()))))
            except (OSError, ValueError):
                continue
    return found
