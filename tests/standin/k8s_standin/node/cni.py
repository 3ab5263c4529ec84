"""CNI configuration files, written where each distribution really keeps them.

k3s's embedded flannel writes its conflist under the agent's data dir
(`<data-dir>/agent/etc/cni/net.d`), which its containerd is pointed at; k0s runs
kube-router, whose install step writes `/etc/cni/net.d/10-kuberouter.conflist`.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..config import NodeConfig
from . import env


def conflist_path(config: NodeConfig) -> Path:
    if config.flavor == "microk8s":
        # $SNAP_DATA/args/cni-network, which the snap's install hook links /etc/cni/net.d to.
        return Path(config.data_dir) / "args" / "cni-network" / "10-calico.conflist"
    if config.flavor == "k3s":
        return Path(config.data_dir) / "agent" / "etc" / "cni" / "net.d" / "10-flannel.conflist"
    return env.under_root("/etc/cni/net.d/10-kuberouter.conflist")


def conflist(config: NodeConfig) -> dict[str, object]:
    if config.flavor == "microk8s":
        return {
            "name": "k8s-pod-network",
            "cniVersion": "0.3.1",
            "plugins": [
                {"type": "calico", "datastore_type": "kubernetes", "ipam": {"type": "calico-ipam"}},
                {"type": "portmap", "snat": True, "capabilities": {"portMappings": True}},
            ],
        }
    if config.flavor == "k3s":
        return {
            "name": "cbr0",
            "cniVersion": "1.0.0",
            "plugins": [
                {
                    "type": "flannel",
                    "delegate": {
                        "hairpinMode": True,
                        "forceAddress": True,
                        "isDefaultGateway": True,
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
                {"type": "bandwidth", "capabilities": {"bandwidth": True}},
            ],
        }
    return {
        "cniVersion": "0.3.0",
        "name": "kubernetes",
        "plugins": [
            {
                "name": "kubernetes",
                "type": "bridge",
                "bridge": "kube-bridge",
                "isDefaultGateway": True,
                "hairpinMode": True,
                "ipam": {"type": "host-local"},
            },
            {"type": "portmap", "snat": True, "capabilities": {"portMappings": True}},
        ],
    }


def write(config: NodeConfig) -> Path:
    path = conflist_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(conflist(config), indent=2) + "\n")
    return path
