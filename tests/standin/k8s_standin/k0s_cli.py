"""`k0s controller|worker|kubeconfig admin|token create|status|version`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import yaml

from . import join, kubeconfig, pki
from .access import AccessOptions
from .authn import TokenConfig
from .cidrs import dns_ips
from .faults import Faults
from .netinfo import detected_ipv6, hostname, primary_ipv4
from .server import ControlPlane, Kubeconfig, ServerOptions

log = logging.getLogger("k8s_standin")
DEFAULT_VERSION = "v1.36.3+k0s.2"
DEFAULT_DATA_DIR = "/var/lib/k0s"


def version() -> str:
    return os.environ.get("STANDIN_VERSION") or DEFAULT_VERSION


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="k0s")
    p.add_argument("--version", action="store_true")
    sub = p.add_subparsers(dest="command")

    def with_data_dir(name: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name)
        sp.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
        sp.add_argument("--debug", "-d", action="store_true")
        return sp

    ctl = with_data_dir("controller")
    ctl.add_argument("--enable-worker", action="store_true")
    ctl.add_argument("--single", action="store_true")
    ctl.add_argument("--no-taints", action="store_true")
    # cmd/controller: components not started (pkg/config/cli.go; coredns and
    # metrics-server are the ones the stand-in deploys).
    ctl.add_argument("--disable-components", action="append", default=[])
    ctl.add_argument("--config", "-c", default="")
    ctl.add_argument("join_token", nargs="?")
    worker = with_data_dir("worker")
    worker.add_argument("token", nargs="?")
    worker.add_argument("--token-file", default="")
    kc = with_data_dir("kubeconfig")
    kc.add_argument("what", nargs="?", default="admin")
    tok = with_data_dir("token")
    tok.add_argument("action", nargs="?", default="create")
    tok.add_argument("--role", default="worker")
    tok.add_argument("--expiry", default="")
    with_data_dir("status")
    with_data_dir("version")
    return p


def main(argv: list[str]) -> int:
    args, unknown = _parser().parse_known_args(argv)
    if args.version or args.command == "version":
        print(version())
        return 0
    for flag in unknown:
        if flag.startswith("-"):
            log.warning("standin: ignoring unsupported flag %s", flag)
    data = Path(getattr(args, "data_dir", DEFAULT_DATA_DIR))
    if args.command in ("controller", "worker"):
        _stage_runtime(data)
    if args.command == "controller":
        return ControlPlane(controller_options(args, data)).run()
    if args.command == "worker":
        token = args.token or (Path(args.token_file).read_text() if args.token_file else "")
        if not token:
            print("Error: a join token is required", file=sys.stderr)
            return 1
        return join.run_k0s_worker(token, data, version())
    if args.command == "kubeconfig":
        return _kubeconfig_admin(data)
    if args.command == "token":
        return _token_create(data, args.role)
    if args.command == "status":
        return _status(data)
    print("usage: k0s controller|worker|kubeconfig admin|token create|status|version")
    return 1


def _stage_runtime(data: Path) -> None:
    """Unpack the embedded containerd, shim and runc to <data-dir>/bin, as k0s does
    before it starts them (pkg/assets/stage.go). The launcher in the image says what is
    embedded; run from the source tree, nothing is."""
    executable = os.environ.get("STANDIN_EXECUTABLE", "")
    containerd_version = os.environ.get("STANDIN_CONTAINERD_VERSION", "")
    if not executable or not containerd_version:
        return
    from .node import containerd, runtimefiles

    files = runtimefiles.embedded(
        containerd_version, os.environ.get("STANDIN_RUNC_VERSION", "unknown"), version()
    )
    written = runtimefiles.stage(Path(executable), data / "bin", files)
    if written:
        log.info("staged %s in %s", ", ".join(written), data / "bin")
    os.environ[containerd.ENV_RUNTIME_DIR] = str(data / "bin")


def _runtime_file(data: Path) -> Path:
    """Written by the running controller: what the offline subcommands need to know."""
    return data / "run" / "standin-controller.json"


def _load_config(path: str) -> dict[str, Any]:
    if not path:
        return {}
    loaded = yaml.safe_load(Path(path).read_text()) or {}
    return dict(loaded)


def controller_options(args: argparse.Namespace, data: Path) -> ServerOptions:
    spec = _load_config(args.config).get("spec") or {}
    api = spec.get("api") or {}
    network = spec.get("network") or {}
    dual = network.get("dualStack") or {}
    pod_cidrs = [network.get("podCIDR", "10.244.0.0/16")]
    svc_cidrs = [network.get("serviceCIDR", "10.96.0.0/12")]
    if dual.get("enabled"):
        pod_cidrs.append(dual.get("IPv6podCIDR", "fd00::/108"))
        svc_cidrs.append(dual.get("IPv6serviceCIDR", "fd01::/108"))
    port = int(api.get("port", 6443))
    address = api.get("address") or primary_ipv4()
    storage = (spec.get("storage") or {}).get("type", "etcd")
    db = data / ("etcd/standin.db" if storage == "etcd" else "db/state.db")
    pki_dir = data / "pki"
    tls = pki.Paths(
        pki_dir / "ca.crt",
        pki_dir / "ca.key",
        pki_dir / "server.crt",
        pki_dir / "server.key",
        pki_dir / "admin.crt",
        pki_dir / "admin.key",
    )
    token_path = pki_dir / "standin-join-token"
    secret = (
        token_path.read_text().strip()
        if token_path.exists()
        else (f"{secrets.token_hex(3)}.{secrets.token_hex(8)}")
    )
    enable_worker = bool(args.enable_worker or args.single)
    runtime = _runtime_file(data)
    runtime.parent.mkdir(parents=True, exist_ok=True)
    runtime.write_text(
        json.dumps(
            {
                "address": address,
                "port": port,
                "pid": os.getpid(),
                "version": version(),
                "workloads": enable_worker,
                "single": bool(args.single),
            }
        )
    )
    log.info("Starting k0s %s (standin)", version())
    return ServerOptions(
        flavor="k0s",
        version=version(),
        data_dir=data,
        db_path=db,
        tls=tls,
        port=port,
        bind_address=os.environ.get("STANDIN_BIND_ADDRESS", "0.0.0.0"),
        node_name=hostname(),
        node_ip=address,
        # k0s detects a dual-stack node's IPv6 address itself (docs/dual-stack.md).
        node_ipv6=detected_ipv6() if len(pod_cidrs) > 1 else None,
        cluster_cidrs=tuple(pod_cidrs),
        service_cidrs=tuple(svc_cidrs),
        cluster_dns=dns_ips(svc_cidrs),
        token=secret,
        token_path=token_path,
        kubeconfigs=[
            Kubeconfig(
                pki_dir / "admin.conf",
                f"https://localhost:{port}",
                0o600,
                ("local", "user", "Default"),
            )
        ],
        tls_sans=[str(s) for s in api.get("sans") or []],
        enable_worker=enable_worker,
        no_taints=bool(args.no_taints),
        disabled=frozenset(
            c.strip() for item in args.disable_components for c in item.split(",") if c.strip()
        ),
        ca_name="kubernetes-ca",
        faults=Faults.from_env(),
        # Controllers run on every controller; the kubelet only with enable_worker.
        start_node=not os.environ.get("STANDIN_NO_NODE"),
        status_path=data / "run" / "status.pid",
        # pkg/component/controller/apiserver.go: --authorization-mode=Node,RBAC,
        # --anonymous-auth=false, pki/sa.key, issuer and audience kubernetes.default.svc.
        access=AccessOptions(
            mode="Node,RBAC",
            anonymous=False,
            tokens=TokenConfig(
                key=pki_dir / "sa.key",
                issuer="https://kubernetes.default.svc",
                audiences=("https://kubernetes.default.svc",),
            ),
        ),
    )


def _runtime(data: Path) -> dict[str, Any] | None:
    path = _runtime_file(data)
    return dict(json.loads(path.read_text())) if path.exists() else None


def _kubeconfig_admin(data: Path) -> int:
    admin = data / "pki" / "admin.conf"
    if not admin.exists():
        print(
            f"Error: failed to read admin config, is the control plane initialized on this "
            f"node?: open {admin}: no such file or directory",
            file=sys.stderr,
        )
        return 1
    config = yaml.safe_load(admin.read_text())
    runtime = _runtime(data)
    if runtime:
        # Like k0s: localhost in the file, the API address in what the command prints.
        config["clusters"][0]["cluster"]["server"] = (
            f"https://{_host(runtime['address'])}:{runtime['port']}"
        )
    sys.stdout.write(kubeconfig.dump(config))
    return 0


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _token_create(data: Path, role: str) -> int:
    runtime = _runtime(data)
    token_path = data / "pki" / "standin-join-token"
    if runtime is None or not token_path.exists():
        print("Error: failed to create join token: the controller is not running", file=sys.stderr)
        return 1
    ca_pem = (data / "pki" / "ca.crt").read_bytes()
    server = f"https://{_host(runtime['address'])}:{runtime['port']}"
    user = "kubelet-bootstrap" if role == "worker" else "controller-bootstrap"
    config = kubeconfig.build(
        server, ca_pem, ("k0s", user, "k0s"), token=token_path.read_text().strip()
    )
    print(join.encode_k0s_token(config))
    return 0


def _status(data: Path) -> int:
    runtime = _runtime(data)
    pid_file = data / "run" / "status.pid"
    alive = False
    if runtime and pid_file.exists():
        try:
            os.kill(int(pid_file.read_text()), 0)
            alive = True
        except (OSError, ValueError):
            alive = False
    if not alive or runtime is None:
        print(
            'Error: status: can\'t get "status" via "/run/k0s/status.sock": the k0s '
            "controller is not running",
            file=sys.stderr,
        )
        return 1
    print(f"Version: {runtime['version']}")
    print(f"Process ID: {runtime['pid']}")
    print("Role: controller")
    print(f"Workloads: {str(runtime['workloads']).lower()}")
    print(f"SingleNode: {str(runtime['single']).lower()}")
    print("Kube-api probing successful: true")
    print("Kube-api probing last error: ")
    return 0
