"""Joining a worker: k3s agents (K3S_URL + K3S_TOKEN) and k0s workers (join token).

Both end the same way: a kubeconfig for the node side, the cluster settings fetched
from the server, and `node.start` with is_server=False.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hmac
import json
import logging
import signal
import ssl
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from . import kubeconfig, pki
from .cidrs import node_ip_mismatch, split
from .config import NodeConfig
from .faults import Faults
from .netinfo import detected_ipv6, hostname, primary_ipv4

log = logging.getLogger("k8s_standin")


def encode_k0s_token(config: dict[str, Any]) -> str:
    """k0s join tokens are a gzipped kubeconfig, base64-encoded."""
    return base64.b64encode(gzip.compress(kubeconfig.dump(config).encode())).decode()


def decode_k0s_token(token: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(gzip.decompress(base64.b64decode(token.strip())))
    return data


def _fetch(url: str, ca_pem: bytes | None, token: str | None, attempts: int = 60) -> bytes:
    if ca_pem is None:
        ctx = ssl.create_default_context()
        # The CA is unknown before /cacerts; the token's CA hash verifies it after.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cadata=ca_pem.decode())
        ctx.check_hostname = False  # the server may be reached by a name not in its SANs
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    last: Exception | None = None
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(request, context=ctx, timeout=5) as resp:
                body: bytes = resp.read()
                return body
        except OSError as exc:  # server not up yet: retry like a real agent
            last = exc
            time.sleep(1)
    raise RuntimeError(f"cannot reach {url}: {last}")


def node_credentials(server: str, ca_pem: bytes, token: str, node: str) -> tuple[bytes, bytes]:
    """The node's client certificate and key (CN=system:node:<node>, O=system:nodes),
    which the server hands out for the join token, as k3s's supervisor does for an
    agent's kubelet."""
    query = urllib.parse.urlencode({"node": node})
    answer = json.loads(_fetch(f"{server}/standin/node-credentials?{query}", ca_pem, token))
    return answer["certificate"].encode(), answer["key"].encode()


def _wait_forever() -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    return 0


def _node_ips(flag: str) -> tuple[str, str | None]:
    ips = split(flag) or [primary_ipv4()]
    v4 = next((ip for ip in ips if ":" not in ip), ips[0])
    return v4, next((ip for ip in ips if ":" in ip), None)


def _start(
    flavor: str,
    version: str,
    data_dir: Path,
    server: str,
    kc_path: Path,
    settings: dict[str, Any],
    node_name: str,
    node_ip_flag: str,
    token: str,
) -> int:
    from . import node

    node_ip, node_ipv6 = _node_ips(node_ip_flag)
    cluster_cidrs = tuple(settings["clusterCIDRs"])
    if flavor == "k3s":
        mismatch = node_ip_mismatch(cluster_cidrs, [node_ip, *([node_ipv6] if node_ipv6 else [])])
        if mismatch:
            log.critical("Error: %s", mismatch)
            return 1
    elif node_ipv6 is None and len(cluster_cidrs) > 1:
        node_ipv6 = detected_ipv6()  # k0s finds a dual-stack node's IPv6 address itself
    config = NodeConfig(
        flavor="k3s" if flavor == "k3s" else "k0s",
        version=version,
        data_dir=data_dir,
        api_url=server,
        kubeconfig_path=kc_path,
        node_name=node_name or hostname(),
        node_ip=node_ip,
        node_ipv6=node_ipv6,
        cluster_cidrs=cluster_cidrs,
        service_cidrs=tuple(settings["serviceCIDRs"]),
        cluster_dns=tuple(settings["clusterDNS"]),
        disabled=frozenset(settings["disabled"]),
        is_server=False,
        enable_worker=True,
        faults=Faults.from_env(),
        token=token,
    )
    node.start(config)
    return _wait_forever()


def run_k3s_agent(args: argparse.Namespace, version: str) -> int:
    if not args.server or not args.token:
        log.error("agent needs --server/K3S_URL and --token/K3S_TOKEN")
        return 1
    server = args.server.rstrip("/")
    ca_pem = _fetch(f"{server}/cacerts", None, None)
    if args.token.startswith("K10"):
        want = args.token[3:].split("::", 1)[0]
        if not hmac.compare_digest(want, pki.ca_hash(ca_pem)):
            log.error("token CA hash does not match the server's CA")
            return 1
    settings = json.loads(_fetch(f"{server}/standin/cluster-config", ca_pem, args.token))
    data = Path(args.data_dir)
    kc_path = data / "agent" / "kubelet.kubeconfig"
    names = ("default", "default", "default")
    cert, key = node_credentials(server, ca_pem, args.token, args.node_name or hostname())
    kubeconfig.write(kc_path, kubeconfig.build(server, ca_pem, names, cert, key))
    log.info("Starting k3s agent %s (standin)", version)
    return _start(
        "k3s", version, data, server, kc_path, settings, args.node_name, args.node_ip, args.token
    )


def run_k0s_worker(token: str, data_dir: Path, version: str) -> int:
    config = decode_k0s_token(token)
    server = kubeconfig.server_of(config)
    ca_pem = kubeconfig.ca_of(config)
    secret = str(config["users"][0]["user"].get("token", ""))
    settings = json.loads(_fetch(f"{server}/standin/cluster-config", ca_pem, secret))
    kc_path = data_dir / "kubelet.conf"
    cert, key = node_credentials(server, ca_pem, secret, hostname())
    names = (config["clusters"][0]["name"], "kubelet", config["contexts"][0]["name"])
    kubeconfig.write(kc_path, kubeconfig.build(server, ca_pem, names, cert, key))
    log.info("Starting k0s worker %s (standin)", version)
    return _start("k0s", version, data_dir, server, kc_path, settings, "", "", secret)
