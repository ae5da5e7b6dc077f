"""Inspect certificates (on disk and as served by nginx) and make the bootstrap placeholder."""

from __future__ import annotations

import re
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wapang.edge.errors import ServedCertificateMismatch

# Renew when no more than this fraction of the lifetime is left (Let's Encrypt's advice; like
# certbot, half for certificates shorter than 10 days, e.g. the 160-hour shortlived profile).
RENEW_AT_FRACTION_LEFT = 1 / 3
SHORT_LIVED = timedelta(days=10)
SHORT_LIVED_FRACTION_LEFT = 1 / 2


RENEWAL_DUE = "renewal is due (a third of the lifetime left; half when shorter than 10 days)"


def renew_fraction(lifetime: timedelta) -> float:
    return SHORT_LIVED_FRACTION_LEFT if lifetime < SHORT_LIVED else RENEW_AT_FRACTION_LEFT


PLACEHOLDER_ORGANIZATION = "wapang placeholder"


@dataclass(frozen=True)
class CertInfo:
    names: frozenset[str]
    issuer: str
    subject: str
    serial: int
    not_before: datetime
    not_after: datetime

    @property
    def serial_hex(self) -> str:
        return format(self.serial, "X")

    @property
    def lifetime(self) -> timedelta:
        return self.not_after - self.not_before

    @property
    def renew_at(self) -> datetime:
        """The moment only a third of the lifetime is left (half, when short-lived)."""
        return self.not_after - self.lifetime * renew_fraction(self.lifetime)

    def days_left(self, now: datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400

    def fraction_left(self, now: datetime) -> float:
        total = self.lifetime.total_seconds()
        return 0.0 if total <= 0 else (self.not_after - now).total_seconds() / total

    def is_placeholder(self) -> bool:
        return PLACEHOLDER_ORGANIZATION in self.issuer

    def is_staging(self, staging_issuer_pattern: str) -> bool:
        return re.search(staging_issuer_pattern, self.issuer) is not None


def needs_order(cert: CertInfo | None, names: set[str], now: datetime) -> str | None:
    """Why a new certificate is needed, or None when the current one is good enough."""
    if cert is None:
        return "no certificate"
    if cert.names != frozenset(names):
        return "the certificate's names differ from DOMAINS"
    if now >= cert.not_after:
        return "the certificate has expired"
    if cert.fraction_left(now) <= renew_fraction(cert.lifetime):
        return RENEWAL_DUE
    return None


def cert_info(certificate: x509.Certificate) -> CertInfo:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = frozenset(name.lower() for name in san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = frozenset()
    return CertInfo(
        names=names,
        issuer=certificate.issuer.rfc4514_string(),
        subject=certificate.subject.rfc4514_string(),
        serial=certificate.serial_number,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )


def load_cert(path: Path) -> CertInfo | None:
    """The first certificate of a PEM file (the leaf of a fullchain), or None if absent."""
    if not path.exists():
        return None
    return cert_info(x509.load_pem_x509_certificate(path.read_bytes()))


def fetch_served_cert(host: str, port: int, server_name: str, timeout: float = 5) -> CertInfo:
    """What `fetch_served_certificate` returns, as the manager compares it with the disk."""
    return cert_info(fetch_served_certificate(host, port, server_name, timeout))


def fetch_served_certificate(
    host: str, port: int, server_name: str, timeout: float = 5
) -> x509.Certificate:
    """The leaf certificate a TLS server presents for SNI server_name, not verified: to see
    what is served, whoever signed it."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise ConnectionError(f"{host}:{port} presented no certificate")
    return x509.load_der_x509_certificate(der)


def wait_until_served(
    host: str, port: int, server_name: str, serial: int, timeout: float, in_a_row: int = 5
) -> CertInfo:
    """Poll until nginx serves `serial` on several new connections in a row: a reload returns
    before the new workers answer, and old workers keep accepting for a moment (G6)."""
    deadline = time.monotonic() + timeout
    last: str = "nothing"
    seen = 0
    while True:
        try:
            served = fetch_served_cert(host, port, server_name, timeout=2)
            if served.serial == serial:
                seen += 1
                if seen >= in_a_row:
                    return served
                continue
            seen = 0
            last = f"serial {served.serial_hex}"
        except OSError as exc:
            seen = 0
            last = f"error {exc}"
        if time.monotonic() >= deadline:
            raise ServedCertificateMismatch(
                f"{host}:{port} still serves {last}, expected serial {serial:X} "
                f"after {timeout:.0f}s"
            )
        time.sleep(0.1)


def write_placeholder(directory: Path, names: list[str], days: int = 2) -> None:
    """A self-signed certificate so nginx can start before any real certificate exists."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, PLACEHOLDER_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path = directory / "privkey.pem"
    key_path.write_bytes(key_pem)
    key_path.chmod(0o600)
    (directory / "fullchain.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
