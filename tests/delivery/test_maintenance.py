"""Maintenance mode through the real nginx, rendered from the package's templates: with the flag
file in the webroot, /api answers the contract's JSON 503 with Retry-After (and the security
headers), /readyz and the ACME challenge path are still served; removing the file ends it. No
reload and no restart in between: the same nginx process answers throughout."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

import httpx
import pytest

from harness.processes import LOOPBACK
from wapang.delivery.pki import Authority, issue, make_authority

from .conftest import SITE, App, EdgeStarter, LocalEdge

MAINTENANCE_BODY = {"error_code": "ERR_503", "error_msg": "SERVICE UNAVAILABLE"}


@pytest.fixture(scope="module")
def authority() -> Authority:
    return make_authority("wapang test maintenance CA")


def client(edge: LocalEdge, ca_file: Path) -> httpx.Client:
    return httpx.Client(
        base_url=f"https://{LOOPBACK}:{edge.https_port}",
        headers={"Host": SITE},
        verify=ssl.create_default_context(cafile=str(ca_file)),
        timeout=10,
        follow_redirects=False,
    )


def get(http: httpx.Client, path: str) -> httpx.Response:
    return http.get(path, extensions={"sni_hostname": SITE})


def test_maintenance_flag_answers_json_503_for_the_api_only(
    start_edge: EdgeStarter, api_app: App, authority: Authority, tmp_path: Path
) -> None:
    edge = start_edge(issue(authority, [SITE], tmp_path / "tls"), api_app.port)
    assert edge.webroot is not None
    ca_file = authority.write(tmp_path / "ca.pem")
    # nginx's workers (nobody) test the flag with stat(): as in the image's /var/www/certbot,
    # they must be able to reach the webroot (pytest's base directory is 0700).
    for directory in [edge.webroot, *edge.webroot.parents]:
        if directory == Path(tempfile.gettempdir()):
            break
        directory.chmod(directory.stat().st_mode | 0o011)
    challenge = edge.webroot / ".well-known" / "acme-challenge"
    challenge.mkdir(parents=True)
    (challenge / "token123").write_text("token123.thumbprint")
    flag = edge.webroot / "wapang-maintenance"
    with client(edge, ca_file) as http:
        assert get(http, "/api/items").status_code == 200
        flag.write_text("")
        for path in ("/api/items", "/api", "/api/users/me"):
            during = get(http, path)
            assert during.status_code == 503, (path, during.text)
            assert during.json() == MAINTENANCE_BODY
            assert during.headers["content-type"] == "application/json"
            assert during.headers["retry-after"] == "120"
            assert "max-age=63072000" in during.headers["strict-transport-security"]
        assert get(http, "/readyz").status_code == 200
        acme = httpx.get(
            f"http://{LOOPBACK}:{edge.http_port}/.well-known/acme-challenge/token123",
            headers={"Host": SITE},
        )
        assert acme.status_code == 200
        assert acme.text == "token123.thumbprint"
        flag.unlink()
        assert get(http, "/api/items").status_code == 200
