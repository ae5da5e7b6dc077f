"""testssl.sh against the edge serving a pebble-issued certificate; judged from its JSON."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.requirements import find_binaries

from .rig import Edge

pytestmark = pytest.mark.edge

# Expected on this rig (notes §5): Mozilla intermediate sets no server cipher order on purpose
# (every suite is AEAD + forward secrecy), and pebble certificates carry no OCSP/CRL URL.
ALLOWED_FINDINGS = {"cipher_order", "cert_revocation"}
NOT_OFFERED = ("SSLv2", "SSLv3", "TLS1", "TLS1_1")
OFFERED = ("TLS1_2", "TLS1_3")
SECURITY_HEADERS = (
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Content-Security-Policy",
    "Referrer-Policy",
)


def run_testssl(
    binary: str, edge_port: int, name: str, root_ca: str, out: str
) -> dict[str, dict[str, str]]:
    subprocess.run(
        [
            binary,
            "--quiet",
            "--color",
            "0",
            "--warnings",
            "off",
            "--ip",
            "127.0.0.1",
            "--nodns",
            "none",
            "--add-ca",
            root_ca,
            "-p",
            "-s",
            "-f",
            "-S",
            "-h",
            "-U",
            "--jsonfile",
            out,
            f"{name}:{edge_port}",
        ],
        capture_output=True,
        timeout=300,
        check=False,  # the exit code is not a verdict (G14); the JSON is
    )
    with open(out) as handle:
        return {finding["id"]: finding for finding in json.load(handle)}


def test_testssl_finds_modern_tls_only_and_the_security_headers(issued_edge: Edge) -> None:
    testssl = find_binaries("testssl")["testssl"]
    edge = issued_edge
    s = edge.settings

    findings = run_testssl(
        testssl, s.https_port, s.domains[0], str(edge.root_ca), str(edge.prefix / "testssl.json")
    )

    problems = [
        f"{key}: {findings[key]['finding']}"
        for key in NOT_OFFERED
        if not findings[key]["finding"].startswith("not offered")
    ]
    problems += [
        f"{key}: {findings[key]['finding']}"
        for key in OFFERED
        if not findings[key]["finding"].startswith("offered")
    ]
    problems += [
        f"{item['id']} {item['severity']}: {item['finding']}"
        for item in findings.values()
        if item["severity"] in ("MEDIUM", "HIGH", "CRITICAL") and item["id"] not in ALLOWED_FINDINGS
    ]
    assert not problems, problems
    assert findings["cert_chain_of_trust"]["finding"].startswith("passed")
    # every cipher offered is AEAD with forward secrecy
    for category in ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW"):
        assert findings[category]["finding"].startswith("not offered"), findings[category]
    assert findings["cipherlist_3DES_IDEA"]["finding"].startswith("not offered")
    assert findings["cipherlist_AVERAGE"]["finding"].startswith("not offered")
    assert findings["PFS"]["finding"].startswith("offered")
    ciphers = findings["PFS_ciphers"]["finding"].split()
    assert ciphers
    assert all("GCM" in c or "CHACHA20" in c for c in ciphers), ciphers
    assert findings["HSTS_time"]["severity"] == "OK"
    for header in SECURITY_HEADERS:
        assert header in findings, sorted(findings)
