"""Pod volumes as real directories, bind-mounted at their mountPath.

Layout follows the kubelet's: `<pod dir>/volumes/kubernetes.io~<plugin>/<name>`.
configMap/secret/downwardAPI/projected volumes are materialised as files;
persistentVolumeClaim volumes resolve to the bound PV's hostPath/local path.
"""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass
from pathlib import Path

from . import env
from .client import ApiError, Client
from .util import Obj


class VolumeNotReady(Exception):
    """Raised while a volume cannot be set up yet (FailedMount); the kubelet retries."""


@dataclass
class Bind:
    source: Path
    target: str
    read_only: bool = False


def _write_files(directory: Path, files: dict[str, bytes]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for key, data in files.items():
        path = directory / key
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)


def _select(data: dict[str, bytes], items: list[Obj] | None) -> dict[str, bytes]:
    if not items:
        return data
    return {item["path"]: data[item["key"]] for item in items if item["key"] in data}


def _host_path(path: str) -> Path:
    # Paths already under STANDIN_ROOT (e.g. a provisioned PV) are used as they are.
    root = str(env.root())
    return Path(path) if root == "/" or path.startswith(root) else env.under_root(path)


class Volumes:
    def __init__(self, client: Client) -> None:
        self.client = client

    def prepare(self, pod: Obj, pod_dir: Path) -> dict[str, Path]:
        ns = pod["metadata"]["namespace"]
        out: dict[str, Path] = {}
        for vol in pod["spec"].get("volumes") or []:
            name = vol["name"]
            base = pod_dir / "volumes"
            if "emptyDir" in vol:
                path = base / "kubernetes.io~empty-dir" / name
                path.mkdir(parents=True, exist_ok=True)
            elif "hostPath" in vol:
                path = _host_path(vol["hostPath"]["path"])
                kind = vol["hostPath"].get("type", "")
                if kind == "FileOrCreate":
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.touch(exist_ok=True)
                elif kind in ("DirectoryOrCreate", "") and not path.exists():
                    path.mkdir(parents=True, exist_ok=True)
            elif "configMap" in vol:
                path = base / "kubernetes.io~configmap" / name
                _write_files(path, self._configmap(ns, vol["configMap"]))
            elif "secret" in vol:
                path = base / "kubernetes.io~secret" / name
                _write_files(path, self._secret(ns, vol["secret"]))
            elif "downwardAPI" in vol:
                path = base / "kubernetes.io~downward-api" / name
                _write_files(path, self._downward(pod, vol["downwardAPI"].get("items") or []))
            elif "projected" in vol:
                path = base / "kubernetes.io~projected" / name
                _write_files(path, self._projected(pod, vol["projected"].get("sources") or []))
            elif "persistentVolumeClaim" in vol:
                path = self._claim(ns, vol["persistentVolumeClaim"]["claimName"])
            else:
                raise VolumeNotReady(f"volume {name!r}: unsupported volume type")
            out[name] = path
        return out

    def binds(self, container: Obj, paths: dict[str, Path]) -> list[Bind]:
        binds = []
        for mount in container.get("volumeMounts") or []:
            source = paths.get(mount["name"])
            if source is None:
                raise VolumeNotReady(f"volume {mount['name']!r} not found in pod spec")
            if mount.get("subPath"):
                source = source / mount["subPath"]
                if not source.exists():
                    source.mkdir(parents=True, exist_ok=True)
            binds.append(Bind(source, mount["mountPath"], bool(mount.get("readOnly"))))
        return binds

    def _configmap(self, ns: str, ref: Obj) -> dict[str, bytes]:
        cm = self.client.get_or_none("configmaps", ref["name"], ns)
        if cm is None:
            if ref.get("optional"):
                return {}
            raise VolumeNotReady(f'configmap "{ref["name"]}" not found')
        data = {k: v.encode() for k, v in (cm.get("data") or {}).items()}
        data.update({k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()})
        return _select(data, ref.get("items"))

    def _secret(self, ns: str, ref: Obj) -> dict[str, bytes]:
        name = ref.get("secretName") or ref.get("name", "")
        secret = self.client.get_or_none("secrets", name, ns)
        if secret is None:
            if ref.get("optional"):
                return {}
            raise VolumeNotReady(f'secret "{name}" not found')
        data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
        data.update({k: v.encode() for k, v in (secret.get("stringData") or {}).items()})
        return _select(data, ref.get("items"))

    def _downward(self, pod: Obj, items: list[Obj]) -> dict[str, bytes]:
        out = {}
        for item in items:
            field = (item.get("fieldRef") or {}).get("fieldPath", "")
            out[item["path"]] = field_value(pod, field).encode()
        return out

    def _projected(self, pod: Obj, sources: list[Obj]) -> dict[str, bytes]:
        ns = pod["metadata"]["namespace"]
        out: dict[str, bytes] = {}
        for source in sources:
            if "configMap" in source:
                out.update(self._configmap(ns, {**source["configMap"], "optional": True}))
            elif "secret" in source:
                out.update(self._secret(ns, {**source["secret"], "optional": True}))
            elif "downwardAPI" in source:
                out.update(self._downward(pod, source["downwardAPI"].get("items") or []))
            elif "serviceAccountToken" in source:
                projection = source["serviceAccountToken"]
                out[projection.get("path", "token")] = self._token(pod, projection).encode()
        return out

    def _token(self, pod: Obj, projection: Obj) -> str:
        """The kubelet's token manager: a TokenRequest for the pod's service account,
        bound to the pod (pkg/kubelet/token), signed by the API server's key."""
        meta = pod["metadata"]
        account = pod.get("spec", {}).get("serviceAccountName") or "default"
        spec: Obj = {
            "expirationSeconds": int(projection.get("expirationSeconds") or 3600),
            "boundObjectRef": {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": meta["name"],
                "uid": meta.get("uid", ""),
            },
        }
        if projection.get("audience"):
            spec["audiences"] = [projection["audience"]]
        path = f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{account}/token"
        try:
            answer = self.client.request("POST", path, {"spec": spec})
        except ApiError as err:
            raise VolumeNotReady(f"failed to fetch token: {err}") from None
        return str(answer.get("status", {}).get("token", ""))

    def _claim(self, ns: str, claim: str) -> Path:
        pvc = self.client.get_or_none("persistentvolumeclaims", claim, ns)
        if pvc is None:
            raise VolumeNotReady(f'persistentvolumeclaim "{claim}" not found')
        if pvc.get("status", {}).get("phase") != "Bound":
            raise VolumeNotReady(f'persistentvolumeclaim "{claim}" is not bound')
        pv = self.client.get_or_none("persistentvolumes", pvc["spec"]["volumeName"])
        if pv is None:
            raise VolumeNotReady(f'persistentvolume "{pvc["spec"]["volumeName"]}" not found')
        spec = pv["spec"]
        raw = (spec.get("hostPath") or spec.get("local") or {}).get("path")
        if not raw:
            raise VolumeNotReady(f"persistentvolume {pv['metadata']['name']} has no local path")
        # A PV names a real path on the node (the provisioner made it), never re-rooted.
        path = Path(raw)
        path.mkdir(parents=True, exist_ok=True)
        return path


def field_value(pod: Obj, path: str) -> str:
    meta, status, spec = pod["metadata"], pod.get("status") or {}, pod["spec"]
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": status.get("podIP", ""),
        "status.hostIP": status.get("hostIP", ""),
        "status.podIPs": ",".join(p["ip"] for p in status.get("podIPs") or []),
    }
    if path in simple:
        return simple[path]
    for prefix, source in (
        ("metadata.labels", meta.get("labels")),
        ("metadata.annotations", meta.get("annotations")),
    ):
        if path == prefix:
            return "\n".join(f'{k}="{v}"' for k, v in sorted((source or {}).items()))
        if path.startswith(prefix + "['"):
            return str((source or {}).get(path[len(prefix) + 2 : -2], ""))
    return ""


def mount_script(binds: list[Bind], workdir: str | None, node_path: str | None = None) -> str:
    """Shell run in the pod's private mount namespace before exec'ing the container.

    With `node_path`, the mounts run with the node's tools (the container's PATH may put
    an image's, such as busybox's applets, first) and the container's PATH is back for
    the exec."""
    lines = ["set -e"]
    if node_path:
        lines.append(f"container_path=$PATH; PATH={shlex.quote(node_path)}")
    for bind in binds:
        src, dst = shlex.quote(str(bind.source)), shlex.quote(bind.target)
        if bind.source.is_dir():
            lines.append(f"mkdir -p {dst}")
        else:
            lines.append(f"mkdir -p $(dirname {dst}); [ -e {dst} ] || touch {dst}")
        lines.append(f"mount --bind {src} {dst}")
        if bind.read_only:
            lines.append(f"mount -o remount,bind,ro {dst}")
    if workdir:
        lines.append(f"mkdir -p {shlex.quote(workdir)}; cd {shlex.quote(workdir)}")
    if node_path:
        lines.append("PATH=$container_path")
    lines.append('exec "$@"')
    return "\n".join(lines)
