"""`k3s server|agent|--version`: the k3s command line, as far as tests use it."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
from pathlib import Path

from . import join, kine, pki
from .access import AccessOptions
from .authn import TokenConfig
from .cidrs import dns_ips, node_ip_mismatch, split
from .faults import Faults
from .netinfo import hostname, primary_ipv4
from .server import ControlPlane, Kubeconfig, ServerOptions

log = logging.getLogger("k8s_standin")
DEFAULT_VERSION = "v1.36.5+k3s1"
DISABLABLE = {"traefik", "servicelb", "local-storage", "coredns", "metrics-server"}


def version() -> str:
    return os.environ.get("STANDIN_VERSION") or DEFAULT_VERSION


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="k3s", add_help=True)
    p.add_argument("--version", "-v", action="store_true")
    sub = p.add_subparsers(dest="command")
    server = sub.add_parser("server")
    server.add_argument("--https-listen-port", type=int, default=6443)
    server.add_argument("--bind-address", default=os.environ.get("STANDIN_BIND_ADDRESS", "0.0.0.0"))
    server.add_argument("--data-dir", "-d", default="/var/lib/rancher/k3s")
    server.add_argument("--tls-san", action="append", default=[])
    server.add_argument("--disable", action="append", default=[])
    server.add_argument("--cluster-cidr", default="10.42.0.0/16")
    server.add_argument("--service-cidr", default="10.43.0.0/16")
    server.add_argument("--cluster-dns", default="")
    server.add_argument("--node-ip", "-i", default="")
    server.add_argument("--flannel-iface", default="")
    server.add_argument("--node-name", default=os.environ.get("K3S_NODE_NAME", ""))
    server.add_argument(
        "--cluster-init", action="store_true", default=bool(os.environ.get("K3S_CLUSTER_INIT"))
    )
    server.add_argument(
        "--datastore-endpoint", default=os.environ.get("K3S_DATASTORE_ENDPOINT", "")
    )
    server.add_argument("--flannel-ipv6-masq", action="store_true")
    server.add_argument(
        "--write-kubeconfig", "-o", default=os.environ.get("K3S_KUBECONFIG_OUTPUT", "")
    )
    server.add_argument(
        "--write-kubeconfig-mode", default=os.environ.get("K3S_KUBECONFIG_MODE", "")
    )
    server.add_argument("--token", "-t", default=os.environ.get("K3S_TOKEN", ""))
    server.add_argument("--token-file", default=os.environ.get("K3S_TOKEN_FILE", ""))
    server.add_argument("--debug", action="store_true")
    agent = sub.add_parser("agent")
    agent.add_argument("--server", "-s", default=os.environ.get("K3S_URL", ""))
    agent.add_argument("--token", "-t", default=os.environ.get("K3S_TOKEN", ""))
    agent.add_argument("--token-file", default=os.environ.get("K3S_TOKEN_FILE", ""))
    agent.add_argument("--data-dir", "-d", default="/var/lib/rancher/k3s")
    agent.add_argument("--node-ip", "-i", default="")
    agent.add_argument("--flannel-iface", default="")
    agent.add_argument("--node-name", default=os.environ.get("K3S_NODE_NAME", ""))
    agent.add_argument("--debug", action="store_true")
    return p


def main(argv: list[str]) -> int:
    args, unknown = _parser().parse_known_args(argv)
    if args.version:
        print(f"k3s version {version()} (standin)")
        print("go version go1.24.0")
        return 0
    for flag in unknown:
        if flag.startswith("-"):
            # Real k3s has hundreds of flags; tests pass some we do not model.
            log.warning("standin: ignoring unsupported flag %s", flag)
    iface = getattr(args, "flannel_iface", "")
    if iface and not Path("/sys/class/net", iface).exists():
        # k3s looks the interface up before starting anything (pkg/agent/config/config.go:
        # "unable to find interface"). The stand-in's pod routes go via the other nodes'
        # InternalIPs, so the interface they leave by follows from --node-ip.
        log.critical("Error: unable to find interface %s: no such network interface", iface)
        return 1
    if args.command == "server":
        options = server_options(args)
        node_ips = [options.node_ip, *([options.node_ipv6] if options.node_ipv6 else [])]
        mismatch = node_ip_mismatch(options.cluster_cidrs, node_ips)
        if mismatch:
            log.critical("Error: %s", mismatch)
            return 1
        return ControlPlane(options).run()
    if getattr(args, "token_file", "") and not args.token:
        args.token = Path(args.token_file).read_text().strip()
    if args.command == "agent":
        return join.run_k3s_agent(args, version())
    print("usage: k3s server|agent [flags]")
    return 1


def _full_token(secret: str, ca_pem: bytes) -> str:
    if secret.startswith("K10"):
        return secret
    return f"K10{pki.ca_hash(ca_pem)}::server:{secret}"


def server_options(args: argparse.Namespace) -> ServerOptions:
    data = Path(args.data_dir)
    tls_dir = data / "server" / "tls"
    tls = pki.Paths(
        tls_dir / "server-ca.crt",
        tls_dir / "server-ca.key",
        tls_dir / "serving-kube-apiserver.crt",
        tls_dir / "serving-kube-apiserver.key",
        tls_dir / "client-admin.crt",
        tls_dir / "client-admin.key",
    )
    external = ""
    db = data / "server" / "db" / ("etcd/standin.db" if args.cluster_init else "state.db")
    if args.datastore_endpoint.startswith("sqlite://"):
        db = Path(args.datastore_endpoint[len("sqlite://") :].split("?")[0])
    elif kine.scheme(args.datastore_endpoint) is not None:
        external = args.datastore_endpoint
    elif args.datastore_endpoint:
        log.warning(
            "standin: datastore %s is not modelled; using SQLite",
            args.datastore_endpoint.split("://")[0],
        )
    disabled = frozenset(d.strip() for item in args.disable for d in item.split(",") if d.strip())
    for name in disabled - DISABLABLE:
        log.warning("standin: --disable %s is not a known component", name)
    node_ips = split(args.node_ip) or [primary_ipv4()]
    cluster_cidrs, service_cidrs = split(args.cluster_cidr), split(args.service_cidr)
    token_path = data / "server" / "token"
    secret = args.token
    if not secret and token_path.exists():
        secret = token_path.read_text().strip()
    secret = secret or secrets.token_hex(16)
    kubeconfig_path = Path(args.write_kubeconfig or "/etc/rancher/k3s/k3s.yaml")
    mode = int(args.write_kubeconfig_mode, 8) if args.write_kubeconfig_mode else 0o600
    opts = ServerOptions(
        flavor="k3s",
        version=version(),
        data_dir=data,
        db_path=db,
        tls=tls,
        port=args.https_listen_port,
        bind_address=args.bind_address,
        node_name=args.node_name or hostname(),
        node_ip=next((ip for ip in node_ips if ":" not in ip), node_ips[0]),
        node_ipv6=next((ip for ip in node_ips if ":" in ip), None),
        cluster_cidrs=tuple(cluster_cidrs),
        service_cidrs=tuple(service_cidrs),
        cluster_dns=tuple(split(args.cluster_dns)) or dns_ips(service_cidrs),
        token="",
        token_path=token_path,
        kubeconfigs=[
            Kubeconfig(kubeconfig_path, f"https://127.0.0.1:{args.https_listen_port}", mode)
        ],
        tls_sans=[s.strip() for item in args.tls_san for s in item.split(",") if s.strip()],
        disabled=disabled,
        ready_line="k3s is up and running",
        ca_name="k3s-server-ca",
        faults=Faults.from_env(),
        start_node=not os.environ.get("STANDIN_NO_NODE"),
        token_format=_full_token,
        token_copies=(data / "server" / "node-token",),
        # pkg/daemons/control/server.go: --authorization-mode=Node,RBAC,
        # --anonymous-auth=false, the issuer and audiences of the cluster domain and
        # "k3s", tokens signed with server/tls/service.current.key.
        access=AccessOptions(
            mode="Node,RBAC",
            anonymous=False,
            tokens=TokenConfig(
                key=tls_dir / "service.current.key",
                issuer="https://kubernetes.default.svc.cluster.local",
                audiences=("https://kubernetes.default.svc.cluster.local", "k3s"),
                copies=(tls_dir / "service.key",),
            ),
        ),
        datastore_endpoint=external,
    )
    opts.token = secret  # made a full K10 token once the CA exists
    log.info("Starting k3s %s (standin)", version())
    return opts
