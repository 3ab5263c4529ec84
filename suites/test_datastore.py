"""Datastore: the store the control plane runs on is the one the profile names,
found by its files inside the server node."""

from __future__ import annotations

from typing import Any

from pytest_k8sdistro import Cluster, Distro
from pytest_k8sdistro.checks import expect

#: Where each datastore keeps its data, per distribution layout: (path, "file"|"dir").
LOCATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    # k3s: kine over SQLite on a single server; k0s with storage type kine.
    "sqlite": (
        ("/var/lib/rancher/k3s/server/db/state.db", "file"),
        ("/var/lib/k0s/db/state.db", "file"),
    ),
    # k3s with --cluster-init; k0s's default.
    "etcd": (
        ("/var/lib/rancher/k3s/server/db/etcd", "dir"),
        ("/var/lib/k0s/etcd", "dir"),
    ),
    # microk8s.
    "dqlite": (("/var/snap/microk8s/current/var/kubernetes/backend", "dir"),),
}


def _present(node: Any, path: str, kind: str) -> bool:
    target = node.file(path)
    return bool(target.exists and (target.is_directory if kind == "dir" else target.is_file))


def test_datastore_matches_profile(distro: Distro, cluster: Cluster, node: Any) -> None:
    expected = distro.expectations.datastore
    state = {
        store: [path for path, kind in places if _present(node, path, kind)]
        for store, places in LOCATIONS.items()
    }
    found = {store: paths for store, paths in state.items() if paths}
    listing = []
    for directory in ("/var/lib/rancher/k3s/server/db", "/var/lib/k0s"):
        result = node.run(f"ls -la {directory} 2>&1")
        listing.append(f"ls {directory}:\n" + result.stdout.strip())
    where = ", ".join(p for p, _ in LOCATIONS.get(expected, ()))
    checked = ", ".join(path for places in LOCATIONS.values() for path, _ in places)
    expect(
        expected in LOCATIONS and list(found) == [expected],
        f"the control plane of {cluster.nodes[0].name} does not run on {expected}",
        expected=f"{expected} data present ({where}) and no other datastore's",
        found="; ".join(f"{store} at {', '.join(paths)}" for store, paths in found.items())
        or "no known datastore files",
        evidence=f"checked {checked}\n" + "\n".join(listing),
    )
