"""A minimal Kubernetes API client on the standard library.

The node side must run inside the node image, which has no `requests` or
`kubernetes` package, so it talks HTTPS with http.client + ssl, as a real
controller would: list, watch, create, merge-patch, status subresource, delete.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]


class ApiError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


# Core resources live under /api/v1; everything else under /apis/<group>/<version>.
_GROUPS: dict[str, str] = {
    "pods": "v1",
    "nodes": "v1",
    "services": "v1",
    "endpoints": "v1",
    "events": "v1",
    "configmaps": "v1",
    "secrets": "v1",
    "namespaces": "v1",
    "serviceaccounts": "v1",
    "persistentvolumeclaims": "v1",
    "persistentvolumes": "v1",
    "deployments": "apps/v1",
    "replicasets": "apps/v1",
    "daemonsets": "apps/v1",
    "statefulsets": "apps/v1",
    "controllerrevisions": "apps/v1",
    "jobs": "batch/v1",
    "cronjobs": "batch/v1",
    "leases": "coordination.k8s.io/v1",
    "storageclasses": "storage.k8s.io/v1",
    "ingresses": "networking.k8s.io/v1",
    "ingressclasses": "networking.k8s.io/v1",
    "networkpolicies": "networking.k8s.io/v1",
    "endpointslices": "discovery.k8s.io/v1",
}
# The aggregation layer: add-ons register metrics-server's APIService.
_GROUPS["apiservices"] = "apiregistration.k8s.io/v1"
# Access control (microk8s's rbac addon status, the kubelet's TokenRequests).
_GROUPS.update(
    {
        r: "rbac.authorization.k8s.io/v1"
        for r in ("clusterroles", "clusterrolebindings", "roles", "rolebindings")
    }
)


def resource_path(
    resource: str, namespace: str | None = None, name: str | None = None, sub: str | None = None
) -> str:
    gv = _GROUPS[resource]
    path = "/api/v1" if gv == "v1" else f"/apis/{gv}"
    if namespace:
        path += f"/namespaces/{namespace}"
    path += f"/{resource}"
    if name:
        path += f"/{name}"
    if sub:
        path += f"/{sub}"
    return path


@dataclass
class Credentials:
    server: str
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    token: str | None = None
    # Descriptors of the in-memory files that hold a kubeconfig's inline *-data.
    _fds: list[int] = field(default_factory=list)

    @classmethod
    def from_kubeconfig(cls, path: str | Path) -> Credentials:
        doc = yaml.safe_load(Path(path).read_text())
        ctx_name = doc.get("current-context")
        ctx = (
            next(c["context"] for c in doc["contexts"] if c["name"] == ctx_name)
            if ctx_name
            else doc["contexts"][0]["context"]
        )
        cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in doc["users"] if u["name"] == ctx["user"])
        creds = cls(server=cluster["server"], token=user.get("token"))
        creds.ca_file = creds._file(cluster, "certificate-authority")
        creds.cert_file = creds._file(user, "client-certificate")
        creds.key_file = creds._file(user, "client-key")
        return creds

    def _file(self, section: Obj, key: str) -> str | None:
        if section.get(key):
            return str(section[key])
        data = section.get(f"{key}-data")
        if not data:
            return None
        # ssl loads certificates only from paths. An in-memory file's path goes away with
        # the process however it ends, where a temporary file would stay behind after a
        # kill (and pods and nodes are killed all the time).
        fd = os.memfd_create(f"standin-{key}")
        os.write(fd, base64.b64decode(data))
        self._fds.append(fd)
        return f"/proc/self/fd/{fd}"


class Client:
    """One connection per thread, reconnecting on failure; JSON in and out."""

    def __init__(self, creds: Credentials, user_agent: str = "k8s-standin-node") -> None:
        self.creds = creds
        url = urllib.parse.urlsplit(creds.server)
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port or 443
        self._https = url.scheme == "https"
        self._ctx = ssl.create_default_context(cafile=creds.ca_file)
        if not creds.ca_file:
            # Agents join with a token only, like `k3s agent` before it fetches the CA.
            self._ctx.check_hostname = False
            self._ctx.verify_mode = ssl.CERT_NONE
        else:
            # Stand-in certificates name 127.0.0.1/localhost; nodes may dial other addresses.
            self._ctx.check_hostname = False
        if creds.cert_file and creds.key_file:
            self._ctx.load_cert_chain(creds.cert_file, creds.key_file)
        self._local = threading.local()
        self.user_agent = user_agent

    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(
                self._host, self._port, context=self._ctx, timeout=timeout
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        if content_type:
            headers["Content-Type"] = content_type
        if self.creds.token:
            headers["Authorization"] = f"Bearer {self.creds.token}"
        return headers

    def request(
        self,
        method: str,
        path: str,
        body: Obj | None = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> Obj:
        if query:
            path += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(2):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = self._connect(timeout=30)
            try:
                conn.request(
                    method, path, body=data, headers=self._headers(content_type if data else None)
                )
                resp = conn.getresponse()
                raw = resp.read().decode(errors="replace")
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
                continue
            if resp.status >= 400:
                raise ApiError(resp.status, raw)
            return json.loads(raw) if raw else {}
        raise AssertionError("unreachable")

    # Convenience verbs -------------------------------------------------------
    def get(self, resource: str, name: str, namespace: str | None = None) -> Obj:
        return self.request("GET", resource_path(resource, namespace, name))

    def get_or_none(self, resource: str, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return self.get(resource, name, namespace)
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def list(self, resource: str, namespace: str | None = None, **query: str) -> list[Obj]:
        items = self.request("GET", resource_path(resource, namespace), query=query or None)
        return list(items.get("items") or [])

    def create(self, resource: str, obj: Obj, namespace: str | None = None) -> Obj:
        return self.request("POST", resource_path(resource, namespace), obj)

    def ensure(self, resource: str, obj: Obj, namespace: str | None = None) -> Obj:
        """Create unless it already exists (add-on manifests are applied once)."""
        try:
            return self.create(resource, obj, namespace)
        except ApiError as err:
            if err.status != 409:
                raise
            return self.get(resource, obj["metadata"]["name"], namespace)

    def patch(
        self,
        resource: str,
        name: str,
        patch: Obj,
        namespace: str | None = None,
        sub: str | None = None,
    ) -> Obj:
        return self.request(
            "PATCH",
            resource_path(resource, namespace, name, sub),
            patch,
            content_type="application/merge-patch+json",
        )

    def replace(
        self, resource: str, obj: Obj, namespace: str | None = None, sub: str | None = None
    ) -> Obj:
        name = obj["metadata"]["name"]
        return self.request("PUT", resource_path(resource, namespace, name, sub), obj)

    def delete(
        self, resource: str, name: str, namespace: str | None = None, grace: int | None = None
    ) -> Obj | None:
        body = (
            {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": grace}
            if grace is not None
            else None
        )
        try:
            return self.request("DELETE", resource_path(resource, namespace, name), body)
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def watch(
        self,
        resource: str,
        namespace: str | None = None,
        resource_version: str | None = None,
        timeout: int = 60,
    ) -> Iterator[Obj]:
        """Stream watch events (one JSON object a line) until the server ends it."""
        query = {"watch": "true", "timeoutSeconds": str(timeout)}
        if resource_version:
            query["resourceVersion"] = resource_version
        path = resource_path(resource, namespace) + "?" + urllib.parse.urlencode(query)
        conn = self._connect(timeout=timeout + 10)
        try:
            conn.request("GET", path, headers=self._headers(None))
            resp = conn.getresponse()
            if resp.status >= 400:
                raise ApiError(resp.status, resp.read().decode(errors="replace"))
            while True:
                line = resp.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()
