"""Environment switches of the node side, read in one place.

The stand-in runs either inside a node image (real paths, root, network namespaces)
or on a developer host inside tests (everything under a temporary prefix, host
networking, configurable ports). These variables make the mode explicit instead of
guessing from the environment.
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
