"""ACME Renewal Information (RFC 9773) with the maintained `acme` library (certbot's own).

certbot 5.8 times renewals with ARI but does not send `replaces`, so its renewals count
against Let's Encrypt's 5-per-exact-set limit. A renewal order that carries `replaces` (the
CertID of the certificate it replaces) inside the CA's suggested window is exempt from every
limit. Here: the CA's renewal window for a certificate, and a renewal order with `replaces`,
made with certbot's own account key and saved into certbot's lineage layout (archive/ +
live/ symlinks; renewal/*.conf untouched), so nginx and `certbot renew` keep working.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

from acme import challenges, client, errors, messages
from acme.client import _renewal_info_path_component
from acme.crypto_util import make_csr
from certbot.crypto_util import cert_and_chain_from_fullchain
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.json_util import field as json_field
from josepy.jwk import JWK

from wapang.edge.ari_cache import RenewalWindow
from wapang.edge.certbot import conf_value
from wapang.edge.lineage import Lineage
from wapang.edge.preflight import CHALLENGE_PATH
from wapang.edge.settings import EdgeSettings

USER_AGENT = "wapang-edge (acme-python)"
ALREADY_REPLACED = "alreadyReplaced"


class ReplacingOrder(messages.NewOrder):
    """newOrder with RFC 9773's `replaces` field (acme 5.9's new_order has no parameter)."""

    replaces: str | None = json_field("replaces", omitempty=True)


class AriClient(client.ClientV2):
    def new_order_replacing(
        self, csr_pem: bytes, replaces: str, profile: str | None
    ) -> messages.OrderResource:
        """ClientV2.new_order, plus `replaces`."""
        csr = x509.load_pem_x509_csr(csr_pem)
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        identifiers = [
            messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=name)
            for name in san.get_values_for_type(x509.DNSName)
        ]
        order = ReplacingOrder(identifiers=identifiers, profile=profile or "", replaces=replaces)
        response = self._post(self.directory["newOrder"], order)
        body = messages.Order.from_json(response.json())
        authorizations = [
            self._authzr_from_response(self._post_as_get(url), uri=url)
            for url in body.authorizations
        ]
        return messages.OrderResource(
            body=body,
            uri=response.headers.get("Location"),
            authorizations=authorizations,
            csr_pem=csr_pem,
        )


def cert_id(cert_pem: bytes) -> str:
    """The ARI CertID: base64url(AKI keyIdentifier) "." base64url(serial)."""
    return _renewal_info_path_component(x509.load_pem_x509_certificate(cert_pem))


def _network(settings: EdgeSettings, key: JWK | None = None) -> client.ClientNetwork:
    verify: bool | str = str(settings.acme_ca_bundle) if settings.acme_ca_bundle else True
    # requests takes a CA file path where acme's annotation says bool
    return client.ClientNetwork(key, user_agent=USER_AGENT, verify_ssl=verify)  # type: ignore[arg-type]


def directory(settings: EdgeSettings, server: str) -> messages.Directory:
    return client.ClientV2.get_directory(server, _network(settings))


def offers_renewal_info(directory_: messages.Directory) -> bool:
    try:
        directory_["renewalInfo"]
    except KeyError:
        return False
    return True


def offered_profiles(directory_: messages.Directory) -> set[str]:
    meta = getattr(directory_, "meta", None)
    return set(getattr(meta, "profiles", None) or {})


def renewal_window(settings: EdgeSettings, server: str, cert_pem: bytes) -> RenewalWindow | None:
    """The CA's renewal time for this certificate, or None when the CA has no renewalInfo."""
    directory_ = directory(settings, server)
    if not offers_renewal_info(directory_):
        return None
    ari = client.ClientV2(directory_, _network(settings))
    try:
        renew_at, check_again = ari.renewal_time(cert_pem)
    except errors.ARIError:
        return None
    if renew_at is None:
        return None
    return RenewalWindow(_utc(renew_at), _utc(check_again))


def _utc(moment: datetime) -> datetime:
    # acme returns naive local times for the retry; treat naive as local, answer in UTC.
    return moment.astimezone(UTC)


# ---- certbot's account -----------------------------------------------------------------


def account_dir(settings: EdgeSettings, server: str, account_id: str) -> Path:
    """certbot keeps accounts at accounts/<host[:port]><path>/<id>/."""
    parsed = urlparse(server)
    return settings.certbot_config_dir / "accounts" / (parsed.netloc + parsed.path) / account_id


def load_account(
    settings: EdgeSettings, server: str, lineage: Lineage
) -> tuple[JWK, messages.RegistrationResource]:
    account_id = conf_value(lineage.renewal_conf.read_text(), "account")
    if not account_id:
        raise FileNotFoundError(f"{lineage.renewal_conf} names no account")
    directory_path = account_dir(settings, server, account_id)
    key = JWK.json_loads((directory_path / "private_key.json").read_text())
    regr = messages.RegistrationResource.json_loads((directory_path / "regr.json").read_text())
    return key, regr


# ---- the renewal order -----------------------------------------------------------------


@dataclass(frozen=True)
class Renewed:
    version: int
    cert_pem: bytes


def _new_key(settings: EdgeSettings) -> bytes:
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if settings.key_type == "ecdsa"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def order_replacing(settings: EdgeSettings, server: str, lineage: Lineage) -> Renewed:
    """Renew `lineage` with an order that carries `replaces`; raises messages.Error with
    code alreadyReplaced (or any other ACME problem) so the caller can fall back."""
    old_cert = (lineage.live_dir / "cert.pem").read_bytes()
    key, regr = load_account(settings, server, lineage)
    net = _network(settings, key)
    net.account = regr
    acme = AriClient(client.ClientV2.get_directory(server, net), net)
    private_key = _new_key(settings)
    csr = make_csr(private_key, settings.domains)
    order = acme.new_order_replacing(csr, cert_id(old_cert), settings.cert_profile)
    tokens = _answer_http01(settings, acme, order)
    try:
        deadline = datetime.now() + timedelta(seconds=settings.certbot_timeout_seconds)
        finished = acme.poll_and_finalize(order, deadline=deadline)
    finally:
        for token in tokens:
            token.unlink(missing_ok=True)
    cert_pem, chain_pem = cert_and_chain_from_fullchain(finished.fullchain_pem)
    version = save_version(lineage, private_key, cert_pem.encode(), chain_pem.encode())
    return Renewed(version, cert_pem.encode())


def _answer_http01(
    settings: EdgeSettings, acme: client.ClientV2, order: messages.OrderResource
) -> list[Path]:
    written = []
    for authz in order.authorizations:
        if authz.body.status == messages.STATUS_VALID:
            continue
        challenge = next(c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01))
        response, validation = challenge.response_and_validation(acme.net.key)
        path = Path(settings.webroot) / CHALLENGE_PATH / challenge.chall.encode("token")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(validation)
        path.chmod(0o644)
        written.append(path)
        acme.answer_challenge(challenge, response)
    return written


def save_version(lineage: Lineage, privkey: bytes, cert: bytes, chain: bytes) -> int:
    """Write version N+1 into archive/ and re-point live/ at it, as certbot's own
    save_successor + update_all_links_to do; the renewal conf needs no change."""
    versions = lineage.versions()
    version = (versions[-1] if versions else 0) + 1
    archive = lineage.archive_dir
    archive.mkdir(parents=True, exist_ok=True)
    contents = {"privkey": privkey, "cert": cert, "chain": chain, "fullchain": cert + chain}
    for kind, data in contents.items():
        path = archive / f"{kind}{version}.pem"
        descriptor = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if kind == "privkey" else 0o644
        )
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
    lineage.live_dir.mkdir(parents=True, exist_ok=True)
    for kind in contents:
        link = lineage.live_dir / f"{kind}.pem"
        temporary = link.with_name(link.name + ".wapang-tmp")
        if temporary.is_symlink() or temporary.exists():
            temporary.unlink()
        temporary.symlink_to(os.path.relpath(archive / f"{kind}{version}.pem", lineage.live_dir))
        os.replace(temporary, link)
    return version


def is_already_replaced(error: BaseException) -> bool:
    """RFC 9773 answers alreadyReplaced with 409 Conflict; acme 5.9 turns every 409 into a
    ConflictError without the problem document, and a newOrder has no other conflict."""
    if isinstance(error, errors.ConflictError):
        return True
    return isinstance(error, messages.Error) and error.code == ALREADY_REPLACED


def problem_of(error: BaseException) -> dict[str, str]:
    if isinstance(error, errors.ConflictError):
        return {
            "name": "",
            "type": ALREADY_REPLACED,
            "detail": "the CA answered 409 Conflict: this certificate was already replaced",
        }
    if isinstance(error, messages.Error):
        kind = error.typ.removeprefix("urn:ietf:params:acme:error:")
        detail = error.detail or ""
        if error.identifier:
            return {"name": error.identifier.value, "type": kind, "detail": detail}
        return {"name": "", "type": kind, "detail": detail}
    return {"name": "", "type": "client", "detail": f"{type(error).__name__}: {error}"}
