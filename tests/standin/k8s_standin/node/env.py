"""Environment switches of the node side, read in one place.

The stand-in runs either inside a node image (real paths, root, network namespaces)
or on a developer host inside tests (everything under a temporary prefix, host
networking, configurable ports). These variables make the mode explicit instead of
guessing from the environment.

Read here:
  STANDIN_ROOT              prefix for absolute node paths (/etc/cni, /var/lib/kubelet, ...)
  STANDIN_POD_NETWORK       netns | host (default: netns when root and STANDIN_ROOT is /)
  STANDIN_DNS_PORT          cluster DNS listener port (53)
  STANDIN_INGRESS_HTTP_PORT / STANDIN_INGRESS_HTTPS_PORT   Traefik entrypoints (8000/8443)
  STANDIN_HOSTPORT_OFFSET   host mode only: svclb pods listen on port + offset
  STANDIN_LISTEN_ADDRESS    address add-on listeners bind (default: all)
  STANDIN_SYNC_INTERVAL     kubelet pass period in seconds (0.5)
Read elsewhere:
  STANDIN_LOG_ROOT          log root, pods under <root>/pods (config.py)
  STANDIN_BACKOFF_SECONDS   first CrashLoopBackOff delay (10; kubelet.py)
  STANDIN_PROXY_MODE        "userspace" forces the userspace service proxy (proxy.py)
  STANDIN_IPTABLES          iptables binary to use, e.g. iptables-legacy (proxy.py)
  STANDIN_DNS_FORWARD       host[:port] to forward non-cluster names to (dns.py)
  STANDIN_KUBECONFIG / STANDIN_API_SERVER   given to kube-system pods (podclient.py)
"""

from __future__ import annotations

import os
from pathlib import Path


def root() -> Path:
    """Prefix for absolute node paths such as /etc/cni/net.d (empty in the image)."""
    return Path(os.environ.get("STANDIN_ROOT", "/"))


def under_root(path: str) -> Path:
    """Map an absolute node path under STANDIN_ROOT so host tests stay in a tmp dir."""
    return root() / path.lstrip("/")


def pod_network() -> str:
    """'netns' (one network namespace per pod, needs root + CAP_NET_ADMIN) or 'host'."""
    mode = os.environ.get("STANDIN_POD_NETWORK", "")
    if mode in ("netns", "host"):
        return mode
    # Default: netns only when we can plausibly create namespaces.
    return "netns" if os.geteuid() == 0 and root() == Path("/") else "host"


def port(name: str, default: int) -> int:
    """Listener ports that must be moved off well-known ports in host mode (DNS, ingress)."""
    value = os.environ.get(f"STANDIN_{name}_PORT")
    return int(value) if value else default


def listen_address() -> str | None:
    """Address add-on listeners bind (DNS, ingress, svclb); None means every address.

    Host tests set 127.0.0.1 so nothing listens beyond loopback on the test machine.
    """
    return os.environ.get("STANDIN_LISTEN_ADDRESS") or None


def hostport_offset() -> int:
    """Shift of hostPorts in host mode, so svclb pods stay off the machine's real ports."""
    return int(os.environ.get("STANDIN_HOSTPORT_OFFSET") or 0)


def interval() -> float:
    """Reconcile period of controllers and kubelet; short so tests stay fast."""
    return float(os.environ.get("STANDIN_SYNC_INTERVAL", "0.5"))
