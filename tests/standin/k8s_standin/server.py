"""Run one control-plane process: TLS, storage, API, controllers, node side, faults."""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import bootstrappolicy, kine, kubeconfig, pki, priorityclasses
from .access import AccessControl, AccessOptions
from .api import ApiApp, ApiInfo
from .config import NodeConfig, log_root, pod_log_dir
from .controllers import Controllers
from .errors import ApiError
from .faults import Faults
from .httpserver import HttpsServer
from .ipam import ServiceIPs
from .metrics import MetricsServer
from .registry import NS, PRIORITY_CLASSES, SERVICES, Registry
from .resources import get
from .store import Store

log = logging.getLogger("k8s_standin")
ENDPOINTS = get("", "v1", "endpoints")
ENDPOINT_SLICES = get("discovery.k8s.io", "v1", "endpointslices")
BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass
class Kubeconfig:
    path: Path
    server: str
    mode: int = 0o600
    names: tuple[str, str, str] = ("default", "default", "default")


@dataclass
class ServerOptions:
    flavor: str
    version: str
    data_dir: Path
    db_path: Path
    tls: pki.Paths
    port: int
    bind_address: str
    node_name: str
    node_ip: str
    node_ipv6: str | None
    cluster_cidrs: tuple[str, ...]
    service_cidrs: tuple[str, ...]
    cluster_dns: tuple[str, ...]
    token: str
    token_path: Path | None
    kubeconfigs: list[Kubeconfig]
    tls_sans: list[str] = field(default_factory=list)
    disabled: frozenset[str] = frozenset()
    enable_worker: bool = True
    no_taints: bool = False
    ready_line: str = ""
    ca_name: str = "k3s-server-ca"
    faults: Faults = field(default_factory=Faults)
    start_node: bool = True
    status_path: Path | None = None  # k0s status file, removed on exit
    # Turns (secret, CA PEM) into the token the distro prints (k3s: "K10<hash>::server:...").
    token_format: Callable[[str, bytes], str] | None = None
    token_copies: tuple[Path, ...] = ()  # k3s also writes server/node-token
    # postgres:// or mysql://: objects live in that database's kine table, not db_path.
    datastore_endpoint: str = ""
    # Authentication and authorization as the distribution configures kube-apiserver.
    access: AccessOptions = field(default_factory=AccessOptions)


class ControlPlane:
    def __init__(self, opts: ServerOptions) -> None:
        self.opts = opts
        self.stop = threading.Event()
        self.ballast: bytearray | None = None

    def run(self) -> int:
        opts = self.opts
        started = time.monotonic()
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        self._hold_memory()
        service_ips = ServiceIPs(opts.service_cidrs)
        sans = [
            "127.0.0.1",
            "localhost",
            "::1",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            opts.node_name,
            opts.node_ip,
            *([opts.node_ipv6] if opts.node_ipv6 else []),
            *[service_ips.first_ip(f) for f in service_ips.families],
            *opts.tls_sans,
        ]
        pki.ensure(opts.tls, sans, opts.ca_name)
        ca_pem = opts.tls.ca_cert.read_bytes()
        if opts.token_format is not None:
            opts.token = opts.token_format(opts.token, ca_pem)
        self._write_credentials(ca_pem)

        backend = kine.KineTable(opts.datastore_endpoint) if opts.datastore_endpoint else None
        store = Store(opts.db_path, backend)
        registry = Registry(store, service_ips)
        self._bootstrap(registry, service_ips)
        bootstrap_rbac(registry)
        access = AccessControl(
            registry,
            dataclasses.replace(opts.access, always_allow=opts.faults.authz_always_allow),
        )
        if opts.faults.authz_always_allow:
            log.warning(
                "Fault: every authenticated request is admitted (STANDIN_AUTHZ_ALWAYS_ALLOW)"
            )
        metrics_server = MetricsServer(registry, stale=opts.faults.metrics_stale)
        info = ApiInfo(
            version=opts.version,
            server_address=f"{opts.node_ip}:{opts.port}",
            pod_log_dirs=(pod_log_dir(), log_root()),
            ca_pem=ca_pem,
            never_ready=opts.faults.never_ready,
            join_token=opts.token,
            cluster_config=self._cluster_config(),
            node_name=opts.node_name,
            access=access,
            tls=opts.tls,
            metrics=metrics_server,
        )
        if opts.faults.metrics_stale:
            log.warning(
                "Fault: the metrics APIService fails its discovery check (STANDIN_METRICS_STALE)"
            )
        app = ApiApp(registry, info)
        server = HttpsServer(
            opts.bind_address,
            opts.port,
            app,
            str(opts.tls.server_cert),
            str(opts.tls.server_key),
            client_ca=str(opts.tls.ca_cert),
        )
        try:
            server.start()
        except OSError as exc:
            log.critical(
                "apiserver exited: listen tcp %s:%d: %s", opts.bind_address, opts.port, exc
            )
            store.close()
            return 1
        log.info(
            "Running kube-apiserver --advertise-address=%s --secure-port=%d "
            "--service-cluster-ip-range=%s",
            opts.node_ip,
            opts.port,
            ",".join(opts.service_cidrs),
        )
        Controllers(registry, ca_pem, self.stop).start()
        metrics_server.start()
        app.ready.set()
        if opts.status_path is not None:
            opts.status_path.parent.mkdir(parents=True, exist_ok=True)
            opts.status_path.write_text(str(os.getpid()))
        if not opts.faults.never_ready and opts.ready_line:
            log.info("%s", opts.ready_line)
        log.info("API ready after %.2fs", time.monotonic() - started)
        if opts.start_node:
            self._start_node(opts)
        if opts.faults.api_down_window:
            threading.Thread(target=self._api_down, args=(server, app), daemon=True).start()
        self.stop.wait()
        log.info("Received SIGTERM, shutting down")
        app.stopping.set()
        server.stop()
        store.close()
        if opts.status_path is not None:
            opts.status_path.unlink(missing_ok=True)
        return 0

    def _cluster_config(self) -> dict[str, object]:
        """What joining nodes fetch from /standin/cluster-config (k3s agents get the
        equivalent from the server's supervisor API)."""
        opts = self.opts
        return {
            "flavor": opts.flavor,
            "version": opts.version,
            "clusterCIDRs": list(opts.cluster_cidrs),
            "serviceCIDRs": list(opts.service_cidrs),
            "clusterDNS": list(opts.cluster_dns),
            "disabled": sorted(opts.disabled),
        }

    def _hold_memory(self) -> None:
        mib = self.opts.faults.hold_memory_mib
        if mib <= 0:
            return
        ballast = bytearray(mib * 1024 * 1024)
        # Touch one byte per page so the memory is resident, not just reserved.
        ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))
        self.ballast = ballast
        log.info("Holding %d MiB of memory (STANDIN_HOLD_MEMORY_MIB)", mib)

    def _write_credentials(self, ca_pem: bytes) -> None:
        opts = self.opts
        cert = opts.tls.client_cert.read_bytes()
        key = opts.tls.client_key.read_bytes()
        for kc in opts.kubeconfigs:
            config = kubeconfig.build(kc.server, ca_pem, kc.names, cert, key)
            kubeconfig.write(kc.path, config, kc.mode)
            log.info("Wrote kubeconfig %s", kc.path)
        for path in (opts.token_path, *opts.token_copies):
            if path is None:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(opts.token + "\n")
            path.chmod(0o600)

    def _bootstrap(self, registry: Registry, ips: ServiceIPs) -> None:
        """What the apiserver's own bootstrap controllers create."""
        opts = self.opts
        for name in BUILTIN_NAMESPACES:
            if registry.find(NS, "", name) is None:
                registry.create(NS, "", {"metadata": {"name": name}})
        # The scheduling/bootstrap-system-priority-classes post-start hook.
        for known in priorityclasses.SYSTEM_CLASSES:
            if registry.find(PRIORITY_CLASSES, "", known["metadata"]["name"]) is None:
                registry.create(PRIORITY_CLASSES, "", copy.deepcopy(known))
        if registry.find(SERVICES, "default", "kubernetes") is None:
            fam = ips.families[0]
            registry.create(
                SERVICES,
                "default",
                {
                    "metadata": {
                        "name": "kubernetes",
                        "labels": {"component": "apiserver", "provider": "kubernetes"},
                    },
                    "spec": {
                        "clusterIP": ips.first_ip(fam),
                        "ipFamilies": [fam],
                        "ports": [
                            {
                                "name": "https",
                                "port": 443,
                                "protocol": "TCP",
                                "targetPort": opts.port,
                            }
                        ],
                    },
                },
            )
        endpoints = {
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
            },
            "subsets": [
                {
                    "addresses": [{"ip": opts.node_ip}],
                    "ports": [{"name": "https", "port": opts.port, "protocol": "TCP"}],
                }
            ],
        }
        fam = "IPv6" if ":" in opts.node_ip else "IPv4"
        slice_ = {
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {
                    "kubernetes.io/service-name": "kubernetes",
                    "endpointslice.kubernetes.io/managed-by": (
                        "endpointslicemirroring-controller.k8s.io"
                    ),
                },
            },
            "addressType": fam,
            "endpoints": [{"addresses": [opts.node_ip], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": opts.port, "protocol": "TCP"}],
        }
        try:
            registry.update(ENDPOINTS, "default", "kubernetes", endpoints)
            registry.update(ENDPOINT_SLICES, "default", "kubernetes", slice_)
        except ApiError:
            log.exception("could not write the kubernetes Endpoints")

    def _start_node(self, opts: ServerOptions) -> None:
        from . import node

        kc = opts.kubeconfigs[0]
        config = NodeConfig(
            flavor=opts.flavor if opts.flavor in ("k3s", "microk8s") else "k0s",
            version=opts.version,
            data_dir=opts.data_dir,
            api_url=f"https://127.0.0.1:{opts.port}",
            kubeconfig_path=kc.path,
            node_name=opts.node_name,
            node_ip=opts.node_ip,
            node_ipv6=opts.node_ipv6,
            cluster_cidrs=opts.cluster_cidrs,
            service_cidrs=opts.service_cidrs,
            cluster_dns=opts.cluster_dns,
            disabled=opts.disabled,
            is_server=True,
            enable_worker=opts.enable_worker,
            no_taints=opts.no_taints,
            faults=opts.faults,
            token=opts.token,
        )
        node.start(config)

    def _api_down(self, server: HttpsServer, app: ApiApp) -> None:
        faults = self.opts.faults
        if self.stop.wait(faults.api_down_after):
            return
        log.warning("Fault: API going down for %.1fs (STANDIN_API_DOWN_FOR)", faults.api_down_for)
        app.stopping.set()
        server.stop()
        if self.stop.wait(faults.api_down_for):
            return
        app.stopping.clear()
        for _ in range(50):
            try:
                server.start()
                break
            except OSError as exc:
                log.warning("Fault: cannot listen again yet: %s", exc)
                if self.stop.wait(0.2):
                    return
        log.info("Fault: API back after the down window")


CLUSTER_ROLES = get("rbac.authorization.k8s.io", "v1", "clusterroles")
CLUSTER_ROLE_BINDINGS = get("rbac.authorization.k8s.io", "v1", "clusterrolebindings")


def bootstrap_rbac(registry: Registry) -> None:
    """The rbac/bootstrap-roles post-start hook: the default ClusterRoles and
    ClusterRoleBindings, created where missing (an administrator's changes to them
    stay), then aggregated once so the first requests see admin/edit/view's rules."""
    for res, objs in (
        (CLUSTER_ROLES, bootstrappolicy.CLUSTER_ROLES),
        (CLUSTER_ROLE_BINDINGS, bootstrappolicy.CLUSTER_ROLE_BINDINGS),
    ):
        for obj in objs:
            if registry.find(res, "", obj["metadata"]["name"]) is None:
                registry.create(res, "", obj)
    from .controllers import aggregate_cluster_roles

    for _ in range(3):  # view feeds edit feeds admin
        aggregate_cluster_roles(registry)
