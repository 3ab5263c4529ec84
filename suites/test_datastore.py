"""Datastore: the store the control plane runs on is the one the profile names,
found by its files inside the server node; an external database started beside
k3s (``--distro-datastore``) is checked to hold the cluster's objects."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import Any

import pytest
from kubernetes import client as k8s

from pytest_k8sdistro.suite import Cluster, Distro, Kube, expect


def _present(node: Any, path: str, kind: str) -> bool:
    target = node.file(path)
    return bool(target.exists and (target.is_directory if kind == "dir" else target.is_file))


def test_datastore_matches_profile(distro: Distro, cluster: Cluster, node: Any) -> None:
    expected = distro.expectations.datastore
    external = distro.profile.datastores
    if external is not None and expected in external.kinds:
        expected = "none embedded"  # the external one is checked below
    # Where each datastore the distribution can run on keeps its files (its profile).
    locations = distro.profile.datastore_files
    state = {
        store: [path for path, kind in places if _present(node, path, kind)]
        for store, places in locations.items()
    }
    found = {store: paths for store, paths in state.items() if paths}
    listing = []
    directories = sorted({str(PurePosixPath(p).parent) for ps in locations.values() for p, _ in ps})
    for directory in directories:
        result = node.run(f"ls -la {directory} 2>&1")
        listing.append(f"ls {directory}:\n" + result.stdout.strip())
    where = ", ".join(p for p, _ in locations.get(expected, ()))
    checked = ", ".join(path for places in locations.values() for path, _ in places)
    embedded_expected = [expected] if expected in locations else []
    expect(
        (expected in locations or expected == "none embedded") and list(found) == embedded_expected,
        f"the control plane of {cluster.nodes[0].name} does not run on "
        f"{distro.expectations.datastore}",
        expected=f"{expected} data present ({where}) and no other datastore's"
        if embedded_expected
        else f"no embedded datastore's files: the state is kept in {distro.expectations.datastore}",
        found="; ".join(f"{store} at {', '.join(paths)}" for store, paths in found.items())
        or "no known datastore files",
        evidence=f"checked {checked}\n" + "\n".join(listing),
    )


def test_external_datastore_holds_the_objects(
    distro: Distro, cluster: Cluster, kube: Kube, namespace: str
) -> None:
    """kine appends a row per write to its ``kine`` table, named by the object's etcd
    key, and an object's resourceVersion is the id of its newest row."""
    store = cluster.datastore
    if store is None:
        pytest.skip("no external datastore: run k3s with --distro-datastore=postgres or mysql")
    expect(
        distro.expectations.datastore == store.kind,
        "the cluster runs on a database the expectations do not name",
        expected=f"datastore {distro.expectations.datastore}",
        found=f"{store.kind} ({store.image})",
    )
    name = f"datastore-{uuid.uuid4().hex[:8]}"
    created = kube.core.create_namespaced_config_map(
        namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name), data={"probe": name})
    )
    key = f"/registry/configmaps/{namespace}/{name}"
    sql = f"SELECT id, deleted FROM kine WHERE name = '{key}' ORDER BY id DESC"
    try:
        rows = store.query(sql)
        total = store.query("SELECT COUNT(*) FROM kine")
    except RuntimeError as exc:
        rows, total = [], [[f"query failed: {exc}"]]
    version = created.metadata.resource_version
    expect(
        bool(rows) and rows[0] == [version, "0"],
        f"ConfigMap {namespace}/{name} is not in {store.kind}'s kine table",
        expected=f"a row named {key} with id {version} (its resourceVersion), not deleted",
        found=f"rows (id, deleted): {rows or 'none'}",
        evidence=f"{sql}\nrows in kine: {total}",
    )
