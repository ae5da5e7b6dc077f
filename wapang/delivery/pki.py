"""Throwaway certificate authorities and leaf certificates (ECDSA P-256, as certbot issues),
made with `cryptography`: pebble's own HTTPS listeners in the rehearsal and the tests, and the
certificates nginx serves in the verify failure cases and the bench."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Leaf:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def write(self, certificate: Path, key: Path) -> None:
        certificate.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        key.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


@dataclass
class Authority:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def write(self, path: Path) -> Path:
        path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        return path

    def sign(self, names: Sequence[str], days: float = 90, addresses: Sequence[str] = ()) -> Leaf:
        """A server certificate for `names` (and IP `addresses`), valid `days` from now."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        alternatives: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
        alternatives += [x509.IPAddress(IPv4Address(address)) for address in addresses]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        certificate = (
            _builder(subject, self.name, key, now - timedelta(hours=1), now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
            )
            .add_extension(x509.SubjectAlternativeName(alternatives), False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
            .sign(self.key, hashes.SHA256())
        )
        return Leaf(certificate, key)


def make_authority(common_name: str, days: float = 365) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        _builder(name, name, key, now - timedelta(days=1), now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return Authority(name, key, certificate)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def issue(authority: Authority, names: list[str], directory: Path, days: float = 90) -> Path:
    """fullchain.pem + privkey.pem for `names` (nginx's layout), valid `days` from now, in a
    directory nginx workers can read; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    authority.sign(names, days).write(directory / "fullchain.pem", directory / "privkey.pem")
    return directory


def write_tls_pair(
    directory: Path,
    authority_name: str,
    names: Sequence[str],
    addresses: Sequence[str] = (),
    files: tuple[str, str, str] = ("ca.pem", "tls.pem", "tls.key"),
) -> Path:
    """A new CA and one server certificate for `names` (pebble's own HTTPS listeners), written
    as `files` (CA, certificate, key: the key readable by a container's own user); returns
    the CA file its clients must trust."""
    directory.mkdir(parents=True, exist_ok=True)
    authority = make_authority(authority_name)
    ca_file, certificate, key = (directory / name for name in files)
    authority.sign(names, addresses=addresses).write(certificate, key)
    key.chmod(0o644)  # a throwaway key, read by pebble's own user
    return authority.write(ca_file)
