"""Per-test namespaces: created labelled as ours, deleted (only if ours) afterwards."""

from __future__ import annotations

import re
import time
import uuid

from kubernetes.client import V1Namespace, V1ObjectMeta
from kubernetes.client.exceptions import ApiException

from pytest_k8sdistro.kube.client import Kube

MANAGED_BY = "app.kubernetes.io/managed-by"
OURS = "pytest-k8sdistro"
RUN_LABEL = "pytest-k8sdistro/run"


def name_for(test_name: str) -> str:
    """A DNS-1123 namespace name that shows which test it belongs to."""
    slug = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:40].strip("-")
    return f"t-{slug or 'test'}-{uuid.uuid4().hex[:6]}"


def create(kube: Kube, name: str, run_id: str, *, timeout: float = 60.0) -> str:
    kube.core.create_namespace(
        V1Namespace(metadata=V1ObjectMeta(name=name, labels={MANAGED_BY: OURS, RUN_LABEL: run_id}))
    )
    # Pods cannot be created before the namespace's default ServiceAccount
    # exists, and the controller that makes it runs asynchronously.
    deadline = time.monotonic() + timeout
    while True:
        try:
            kube.core.read_namespaced_service_account("default", name)
            return name
        except ApiException as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def delete(kube: Kube, name: str) -> None:
    """Delete namespace ``name`` if, and only if, it carries our label."""
    try:
        found = kube.core.read_namespace(name)
    except ApiException as exc:
        if exc.status == 404:
            return
        raise
    labels = (found.metadata.labels if found.metadata else None) or {}
    if labels.get(MANAGED_BY) != OURS:
        return
    kube.core.delete_namespace(name)
