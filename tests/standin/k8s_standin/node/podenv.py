"""Container environment, as the kubelet builds it.

KUBERNETES_SERVICE_HOST/PORT (the ClusterIP in netns mode, the API address in
host mode), HOSTNAME, env and envFrom with values from ConfigMaps, Secrets and the
downward API. Add-on pods (kube-system, and microk8s's addon namespaces) also get
STANDIN_KUBECONFIG and STANDIN_API_SERVER (an API address reachable from the pod)
and the node's other STANDIN_* settings:
that is how the stand-in's add-on processes (DNS, ingress, provisioner) reach the API.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..config import NodeConfig
from .client import Client
from .commands import expand, image_path
from .podnet import PodNetwork
from .util import Obj
from .volumes import field_value

#: Where the distributions' own add-ons run: kube-system, and microk8s's ingress and
#: metallb addons' namespaces.
SYSTEM_NAMESPACES = ("kube-system", "ingress", "metallb-system")


#: What the image and the runtime set, not the kubelet: `$(VAR)` does not see them.
RUNTIME_VARIABLES = ("PATH", "HOSTNAME")


class PodEnv:
    def __init__(
        self,
        client: Client,
        config: NodeConfig,
        network: PodNetwork,
        busybox_bin: Path | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.network = network
        self.busybox_bin = busybox_bin

    def build(self, pod: Obj, info: dict[str, Any], container: Obj) -> dict[str, str]:
        ns = pod["metadata"]["namespace"]
        api_host, api_port = self._api_endpoint()
        environment = {
            "PATH": image_path(str(container.get("image", "")), self.busybox_bin),
            "HOSTNAME": pod["metadata"]["name"],
            "KUBERNETES_SERVICE_HOST": api_host,
            "KUBERNETES_SERVICE_PORT": api_port,
            "KUBERNETES_PORT": f"tcp://{api_host}:{api_port}",
        }
        if ns in SYSTEM_NAMESPACES:
            # Add-on processes of the stand-in reach the API with the node's credentials.
            environment["STANDIN_KUBECONFIG"] = str(self.config.kubeconfig_path)
            environment["STANDIN_API_SERVER"] = self._api_url_for_pods(info)
            for key, value in os.environ.items():
                if key.startswith("STANDIN_") and key not in environment:
                    environment[key] = value
        status_pod = {
            **pod,
            "status": {
                **(pod.get("status") or {}),
                "podIP": (info.get("ips") or [""])[0],
                "podIPs": [{"ip": ip} for ip in info.get("ips") or []],
            },
        }
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            if "configMapRef" in source:
                cm = self.client.get_or_none("configmaps", source["configMapRef"]["name"], ns)
                for key, value in ((cm or {}).get("data") or {}).items():
                    environment[prefix + key] = value
            if "secretRef" in source:
                secret = self.client.get_or_none("secrets", source["secretRef"]["name"], ns)
                for key, value in ((secret or {}).get("data") or {}).items():
                    environment[prefix + key] = base64.b64decode(value).decode(errors="replace")
        for var in container.get("env") or []:
            environment[var["name"]] = self._value(ns, status_pod, var, environment)
        return environment

    def _value(self, ns: str, pod: Obj, var: Obj, defined: dict[str, str]) -> str:
        if "value" in var:
            # $(VAR) refers to variables defined before this one (kubelet
            # makeEnvironmentVariables, expansion.MappingFuncFor(tmpEnv, serviceEnv)).
            visible = {k: v for k, v in defined.items() if k not in RUNTIME_VARIABLES}
            return expand(str(var["value"]), visible)
        source = var.get("valueFrom") or {}
        if "fieldRef" in source:
            return field_value(pod, source["fieldRef"]["fieldPath"])
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            cm = self.client.get("configmaps", ref["name"], ns)
            return str((cm.get("data") or {}).get(ref["key"], ""))
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = self.client.get("secrets", ref["name"], ns)
            raw = (secret.get("data") or {}).get(ref["key"], "")
            return base64.b64decode(raw).decode(errors="replace")
        return ""

    def _api_endpoint(self) -> tuple[str, str]:
        if self.network.mode == "netns":
            return self.config.service_cidrs[0].split("/")[0].rsplit(".", 1)[0] + ".1", "443"
        url = urlsplit(self.config.api_url)
        return url.hostname or "127.0.0.1", str(url.port or 443)

    def _api_url_for_pods(self, info: dict[str, Any]) -> str:
        url = urlsplit(self.config.api_url)
        if info.get("netns") and url.hostname in ("127.0.0.1", "localhost", "::1"):
            # Loopback inside a pod is the pod's own; the node's address reaches the API.
            return f"https://{self.config.node_ip}:{url.port or 443}"
        return self.config.api_url
