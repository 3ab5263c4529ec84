"""`microk8s kubelite|status|config|enable|disable|kubectl|version`: the microk8s snap's
commands, as far as the plugin uses them (canonical/microk8s scripts/wrappers/ and
microk8s-resources/wrappers/, branch 1.35 and tag v1.36).

The snap stand-in (tests/sshd/snap.py) runs these with the snap's environment:
``SNAP`` (the revision's files), ``SNAP_DATA`` (``/var/snap/microk8s/current``) and
``SNAP_COMMON`` (``/var/snap/microk8s/common``). ``kubelite`` is the daemon: the API on
16443, its certificates in ``$SNAP_DATA/certs``, the admin kubeconfig in
``$SNAP_DATA/credentials/client.config``, the datastore under
``$SNAP_DATA/var/kubernetes/backend`` (dqlite's place), services on 10.152.183.0/24,
pods on 10.1.0.0/16, Calico. On its first start it applies the launch configuration,
which enables ``dns`` (microk8s-resources/microk8s.default.yaml).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from . import microk8s_addons as catalogue
from . import pki
from .access import AccessOptions, mode_in_args
from .authn import TokenConfig
from .faults import Faults
from .netinfo import default_ipv4, hostname
from .server import ControlPlane, Kubeconfig, ServerOptions

log = logging.getLogger("k8s_standin")
API_PORT = 16443
DEFAULT_VERSION = "v1.36.3"
#: Written once the launch configuration's addons were enabled (stand-in's own marker).
LAUNCH_DONE = "var/lock/standin-launch-configured"


def version() -> str:
    return os.environ.get("STANDIN_VERSION") or DEFAULT_VERSION


def snap_data() -> Path:
    return Path(os.environ.get("SNAP_DATA", "/var/snap/microk8s/current"))


def client_config() -> Path:
    return snap_data() / "credentials" / "client.config"


def apiserver_args() -> Path:
    return snap_data() / "args" / "kube-apiserver"


#: The access lines of microk8s-resources/default-args/kube-apiserver (branch 1.35 at
#: 8c5f9b02 and tag v1.36 at e254fda9 alike), which the install hook copies to
#: $SNAP_DATA/args: no RBAC until the rbac addon changes the mode.
DEFAULT_APISERVER_ARGS = """\
--cert-dir=${SNAP_DATA}/certs
--service-cluster-ip-range=10.152.183.0/24
--authorization-mode=AlwaysAllow
--service-account-key-file=${SNAP_DATA}/certs/serviceaccount.key
--client-ca-file=${SNAP_DATA}/certs/ca.crt
--secure-port=16443
--service-account-issuer='https://kubernetes.default.svc'
--service-account-signing-key-file=${SNAP_DATA}/certs/serviceaccount.key
"""


def set_apiserver_arg(key: str, value: str) -> bool:
    """refresh_opt_in_config (microk8s-resources/actions/common/utils.sh): replace or
    append ``--key=value``; True when the file changed."""
    path = apiserver_args()
    lines = path.read_text().splitlines() if path.exists() else []
    wanted = f"--{key}={value}"
    kept = [line for line in lines if not line.startswith(f"--{key}=")]
    if wanted in lines and len(kept) == len(lines) - 1:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*kept, wanted]) + "\n")
    return True


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "kubelite":
        return _kubelite()
    if command == "status":
        return _status(rest)
    if command == "config":
        return _config(rest)
    if command in ("enable", "disable"):
        return _xable(command, rest)
    if command == "kubectl":
        return _kubectl(rest)
    if command == "version":
        print(f"MicroK8s {version()} revision {os.environ.get('SNAP_REVISION', 'x1')}")
        return 0
    print(
        "Available subcommands are: config, disable, enable, kubectl, status, version",
        file=sys.stderr,
    )
    return 1


# -- the daemon ----------------------------------------------------------------------


def _kubelite() -> int:
    data = snap_data()
    certs = data / "certs"
    tls = pki.Paths(
        certs / "ca.crt",
        certs / "ca.key",
        certs / "server.crt",
        certs / "server.key",
        certs / "admin.crt",
        certs / "admin.key",
    )
    opts = ServerOptions(
        flavor="microk8s",
        version=version(),
        data_dir=data,
        db_path=data / "var" / "kubernetes" / "backend" / "standin.db",
        tls=tls,
        port=API_PORT,
        bind_address="0.0.0.0",
        node_name=hostname(),
        node_ip=default_ipv4(),
        node_ipv6=None,
        cluster_cidrs=("10.1.0.0/16",),
        service_cidrs=(catalogue.SERVICE_CIDR,),
        cluster_dns=(catalogue.CLUSTER_DNS,),
        token="",
        token_path=None,
        kubeconfigs=[Kubeconfig(client_config(), f"https://127.0.0.1:{API_PORT}", 0o660)],
        ca_name="10.152.183.1",
        faults=Faults.from_env(),
        start_node=not os.environ.get("STANDIN_NO_NODE"),
    )
    args = apiserver_args()
    if not args.exists():
        args.parent.mkdir(parents=True, exist_ok=True)
        args.write_text(DEFAULT_APISERVER_ARGS)
    # No --anonymous-auth in the default args: upstream's default, true.
    opts.access = AccessOptions(
        mode=mode_in_args(args) or "AlwaysAllow",
        anonymous=True,
        tokens=TokenConfig(
            key=certs / "serviceaccount.key",
            issuer="https://kubernetes.default.svc",
            # No --api-audiences: the issuer is the audience.
            audiences=("https://kubernetes.default.svc",),
        ),
        args_file=args,
    )
    log.info("Starting kubelite %s (standin)", version())
    marker = data / LAUNCH_DONE
    if not marker.exists():
        threading.Thread(target=_launch_configuration, args=(marker,), daemon=True).start()
    return ControlPlane(opts).run()


def _launch_configuration(marker: Path) -> None:
    """Enable the launch configuration's addons once the API answers."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            _apply("dns", "")
        except Exception as exc:  # the API is not up yet
            log.debug("launch configuration: %s", exc)
            time.sleep(1)
            continue
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("dns\n")
        log.info("launch configuration applied: dns")
        return


# -- client side ---------------------------------------------------------------------


def _client():  # type: ignore[no-untyped-def]
    from .node.client import Client, Credentials

    return Client(Credentials.from_kubeconfig(client_config()), user_agent="microk8s")


def _ready() -> bool:
    """microk8s's is_cluster_ready: service/kubernetes exists and a node is Ready."""
    try:
        client = _client()
        client.get("services", "kubernetes", "default")
        nodes = client.list("nodes")
    except Exception:
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for n in nodes
        for c in (n.get("status") or {}).get("conditions") or []
    )


def _enabled() -> list[str]:
    client = _client()
    found = list(catalogue.ALWAYS_ENABLED)
    for name, addon in catalogue.ADDONS.items():
        resource, namespace, object_name = addon.check
        if client.get_or_none(resource, object_name, namespace) is not None:
            found.append(name)
    return sorted(found)


def _status(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="microk8s status")
    parser.add_argument("-w", "--wait-ready", action="store_true")
    parser.add_argument("-t", "--timeout", type=int, default=0)
    parser.add_argument("--format", default="pretty")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    ready = _ready()
    while args.wait_ready and not ready and (not args.timeout or time.monotonic() < deadline):
        time.sleep(2)
        ready = _ready()
    if not ready:
        print("microk8s is not running. Use microk8s inspect for a deeper inspection.")
        return 1
    enabled = _enabled()
    print("microk8s is running")
    print("high-availability: no")
    print("  datastore master nodes: 127.0.0.1:19001")
    print("  datastore standby nodes: none")
    print("addons:")
    print("  enabled:")
    for name in enabled:
        print(f"    {name:<20} # (core)")
    print("  disabled:")
    for name in sorted(set(catalogue.ADDONS) - set(enabled)):
        print(f"    {name:<20} # (core) {catalogue.ADDONS[name].description}")
    return 0


def _config(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="microk8s config")
    parser.add_argument("-l", "--use-loopback", action="store_true")
    args = parser.parse_args(argv)
    try:
        text = client_config().read_text()
    except OSError as exc:
        print(f"microk8s config: {exc}", file=sys.stderr)
        return 1
    if not args.use_loopback:
        text = text.replace("127.0.0.1", default_ipv4())
    print(text)
    return 0


def _apply(name: str, argument: str) -> None:
    client = _client()
    for resource, obj in catalogue.objects(name, argument, version()):
        client.ensure(resource, obj, catalogue.namespace_of(obj))


def _xable(command: str, argv: list[str]) -> int:
    if not argv:
        print(f"Usage: microk8s {command} ADDON[:ARGS]...", file=sys.stderr)
        return 1
    for item in argv:
        name, _, argument = item.partition(":")
        if name == "dashboard" and catalogue.minor(version()) >= (1, 36):
            print(f"Addon {name} was not found in any repository", file=sys.stderr)
            return 1
        if name in catalogue.ALWAYS_ENABLED:
            print(f"Addon core/{name} is already enabled")
            continue
        if name == "rbac":
            # core-addons addons/rbac/enable and disable: the apiserver's
            # --authorization-mode becomes RBAC,Node (AlwaysAllow again on disable);
            # kubelite reads its args again rather than restarting.
            mode = "RBAC,Node" if command == "enable" else "AlwaysAllow"
            print("Enabling RBAC" if command == "enable" else "Disabling RBAC")
            print("Reconfiguring apiserver")
            if set_apiserver_arg("authorization-mode", mode):
                print("Restarting apiserver")
                time.sleep(1.0)
            print("RBAC is enabled" if command == "enable" else "RBAC is disabled")
            continue
        if name in catalogue.NOT_MODELLED:
            print(f"stand-in: the {name} addon is not modelled", file=sys.stderr)
            return 1
        if name not in catalogue.ADDONS:
            print(f"Addon {name} was not found in any repository", file=sys.stderr)
            return 1
        if command == "enable" and name == "metallb" and not argument:
            # The real script asks for the ranges on the terminal.
            print("Enter each IP address range delimited by comma: ", end="", flush=True)
            argument = sys.stdin.readline().strip()
            if not argument:
                print("\nno address range given", file=sys.stderr)
                return 1
        print(f"Infer repository core for addon {name}")
        if command == "enable":
            _apply(name, argument)
            print(f"Addon {name} is enabled")
        else:
            client = _client()
            for resource, obj in reversed(catalogue.objects(name, argument or "-", version())):
                client.delete(resource, obj["metadata"]["name"], catalogue.namespace_of(obj))
            print(f"Addon {name} is disabled")
    return 0


def _kubectl(argv: list[str]) -> int:
    binary = shutil.which("kubectl")
    if binary is None:
        print("stand-in: no kubectl on PATH to run `microk8s kubectl`", file=sys.stderr)
        return 1
    env = dict(os.environ, KUBECONFIG=str(client_config()))
    os.execve(binary, [binary, *argv], env)
