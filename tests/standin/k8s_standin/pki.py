"""Certificates for real TLS, made with the openssl CLI.

The openssl binary is in every environment the stand-in runs in (node images and
developer hosts), while python-cryptography is not in the test venv. Keys are
P-256: fast to generate, accepted by Go and Python TLS stacks.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @alt
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[alt]
{alt}
"""


@dataclass(frozen=True)
class Paths:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    @property
    def sans_file(self) -> Path:
        return self.server_cert.with_suffix(".sans.json")


def _run(args: list[str]) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _alt_section(sans: list[str]) -> str:
    dns, ips = [], []
    for san in sans:
        try:
            ips.append(str(ipaddress.ip_address(san)))
        except ValueError:
            dns.append(san)
    lines = [f"DNS.{i + 1} = {d}" for i, d in enumerate(dns)]
    lines += [f"IP.{i + 1} = {ip}" for i, ip in enumerate(ips)]
    return "\n".join(lines) or "DNS.1 = localhost"


def _leaf(paths: Paths, cnf: Path, cert: Path, key: Path, subject: str, ext: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        csr = Path(tmp) / "req.csr"
        _run(
            [
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(csr),
                "-config",
                str(cnf),
                "-subj",
                subject,
            ]
        )
        _run(
            [
                "x509",
                "-req",
                "-in",
                str(csr),
                "-CA",
                str(paths.ca_cert),
                "-CAkey",
                str(paths.ca_key),
                "-set_serial",
                str(secrets.randbits(63)),
                "-days",
                "3650",
                "-extfile",
                str(cnf),
                "-extensions",
                ext,
                "-out",
                str(cert),
            ]
        )
    key.chmod(0o600)


def _self_signed(cnf: Path, cert: Path, key: Path, subject: str, ext: str) -> None:
    _run(
        [
            "req",
            "-x509",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "3650",
            "-config",
            str(cnf),
            "-extensions",
            ext,
            "-subj",
            subject,
        ]
    )
    key.chmod(0o600)


def self_signed_server(cert: Path, key: Path, subject: str, sans: list[str]) -> None:
    """A serving certificate that signs itself, for servers no cluster CA signs for
    here (the kubelet's)."""
    cert.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cnf = Path(tmp) / "openssl.cnf"
        cnf.write_text(_CONFIG.format(alt=_alt_section(sans)))
        _self_signed(cnf, cert, key, subject, "server_ext")


def ensure(paths: Paths, sans: list[str], ca_name: str) -> None:
    """Create what is missing; keep the CA forever, reissue the serving cert when the
    SAN list changed (a restart with another --tls-san), as k3s does."""
    sans = sorted(dict.fromkeys(sans))
    paths.ca_cert.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cnf = Path(tmp) / "openssl.cnf"
        cnf.write_text(_CONFIG.format(alt=_alt_section(sans)))
        if not (paths.ca_cert.exists() and paths.ca_key.exists()):
            _self_signed(
                cnf, paths.ca_cert, paths.ca_key, f"/CN={ca_name}@{int(time.time())}", "ca_ext"
            )
            for stale in (paths.server_cert, paths.client_cert):
                stale.unlink(missing_ok=True)
        current = json.loads(paths.sans_file.read_text()) if paths.sans_file.exists() else None
        if not paths.server_cert.exists() or current != sans:
            _leaf(
                paths, cnf, paths.server_cert, paths.server_key, "/CN=kube-apiserver", "server_ext"
            )
            paths.sans_file.write_text(json.dumps(sans))
        if not paths.client_cert.exists():
            _leaf(
                paths,
                cnf,
                paths.client_cert,
                paths.client_key,
                "/O=system:masters/CN=system:admin",
                "client_ext",
            )


def ca_hash(ca_pem: bytes) -> str:
    """What k3s puts after "K10" in a full join token."""
    return hashlib.sha256(ca_pem).hexdigest()


def client_certificate(paths: Paths, subject: str) -> tuple[bytes, bytes]:
    """(certificate, key) PEM of a new client certificate the cluster CA signs, for a
    subject such as ``/O=system:nodes/CN=system:node:agent-1``."""
    with tempfile.TemporaryDirectory() as tmp:
        cnf = Path(tmp) / "openssl.cnf"
        cnf.write_text(_CONFIG.format(alt="DNS.1 = localhost"))
        cert, key = Path(tmp) / "client.crt", Path(tmp) / "client.key"
        _leaf(paths, cnf, cert, key, subject, "client_ext")
        return cert.read_bytes(), key.read_bytes()
