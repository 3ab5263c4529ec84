"""Reading, checking, rewriting and privately writing kubeconfig files.

A kubeconfig this plugin writes goes to a private file (mode 0600) of its own;
the user's ``~/.kube/config`` is never read for writing nor touched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_k8sdistro.errors import KubeconfigError


def parse(text: str, *, origin: str) -> dict[str, Any]:
    """The kubeconfig in ``text``, checked to name a usable current context."""
    # Imported here, in each function: every pytest run with the plugin installed
    # would pay for loading yaml, and most never read a kubeconfig or overrides.
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"{origin} is not YAML: {exc}") from None
    if not isinstance(data, dict) or data.get("kind", "Config") != "Config":
        raise KubeconfigError(f"{origin} is not a kubeconfig (no 'kind: Config' mapping)")
    context_name = data.get("current-context")
    contexts = {c.get("name"): c.get("context", {}) for c in data.get("contexts") or []}
    if not context_name or context_name not in contexts:
        raise KubeconfigError(
            f"{origin} has no usable current-context (found {context_name!r}; "
            f"contexts: {', '.join(map(str, contexts)) or 'none'})"
        )
    clusters = {c.get("name"): c.get("cluster", {}) for c in data.get("clusters") or []}
    cluster_name = contexts[context_name].get("cluster")
    if cluster_name not in clusters or not clusters[cluster_name].get("server"):
        raise KubeconfigError(
            f"{origin}: context {context_name!r} names cluster {cluster_name!r}, "
            "which is missing or has no server address"
        )
    return data


def load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise KubeconfigError(f"cannot read kubeconfig {str(path)!r}: {exc.strerror}") from None
    return parse(text, origin=f"kubeconfig {str(path)!r}")


def current_cluster(data: dict[str, Any]) -> dict[str, Any]:
    """The current context's cluster entry (``server``, CA, ``tls-server-name``)."""
    contexts = {c["name"]: c["context"] for c in data["contexts"]}
    cluster_name = contexts[data["current-context"]]["cluster"]
    for entry in data["clusters"]:
        if entry["name"] == cluster_name:
            cluster: dict[str, Any] = entry["cluster"]
            return cluster
    raise KubeconfigError(f"cluster {cluster_name!r} is missing")  # parse() rules this out


def server(data: dict[str, Any]) -> str:
    return str(current_cluster(data)["server"])


def rewrite_server(data: dict[str, Any], host: str, port: int) -> dict[str, Any]:
    """A copy of ``data`` whose current cluster is reached at ``host:port``.

    Distributions write ``https://127.0.0.1:6443`` or their node address; seen
    from the pytest host, the API is on a published port. The CA is
    kept, so the serving certificate must list ``host`` (127.0.0.1 is always there).
    """
    import yaml

    copy: dict[str, Any] = yaml.safe_load(yaml.safe_dump(data))
    cluster = current_cluster(copy)
    scheme = urlsplit(cluster["server"]).scheme or "https"
    cluster["server"] = f"{scheme}://{host}:{port}"
    return copy


def write_private(data: dict[str, Any], path: Path) -> Path:
    """Write ``data`` to ``path`` readable by its owner only (0600) and return it."""
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    # Create with 0600 from the start: a chmod after writing leaves a window in
    # which credentials are world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(data, handle, default_flow_style=False)
    os.chmod(path, 0o600)
    return path
