"""Decoding of the few protobuf request bodies kubectl sends for simple kinds.

kubectl's typed commands (`kubectl create namespace|configmap|secret|serviceaccount`)
send `application/vnd.kubernetes.protobuf` and do not fall back to JSON. Decoding
needs each kind's field numbers, so only these small kinds are covered; everything
else keeps getting 415. Field numbers are those of the published k8s.io/api types.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

MAGIC = b"k8s\x00"

# message -> field number -> (json name, kind); kinds: str, bytes, bool, int, msg:X,
# map:str / map:bytes (string keys), list:str, list:msg:X, intstr (an IntOrString:
# type 1, intVal 2, strVal 3; JSON has the bare int or string), map:quantity (values
# are resource.Quantity messages, JSON has their string)
Schema = dict[int, tuple[str, str]]
SCHEMAS: dict[str, Schema] = {
    "Unknown": {
        1: ("typeMeta", "msg:TypeMeta"),
        2: ("raw", "bytes"),
        3: ("contentEncoding", "str"),
        4: ("contentType", "str"),
    },
    "TypeMeta": {1: ("apiVersion", "str"), 2: ("kind", "str")},
    "ObjectMeta": {
        1: ("name", "str"),
        2: ("generateName", "str"),
        3: ("namespace", "str"),
        11: ("labels", "map:str"),
        12: ("annotations", "map:str"),
        13: ("ownerReferences", "list:msg:OwnerReference"),
        14: ("finalizers", "list:str"),
    },
    "OwnerReference": {
        1: ("kind", "str"),
        3: ("name", "str"),
        4: ("uid", "str"),
        5: ("apiVersion", "str"),
        6: ("controller", "bool"),
        7: ("blockOwnerDeletion", "bool"),
    },
    "Namespace": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "list:str")},
    "ConfigMap": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("data", "map:str"),
        3: ("binaryData", "map:bytes"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("data", "map:bytes"),
        3: ("type", "str"),
        4: ("stringData", "map:str"),
        5: ("immutable", "bool"),
    },
    "ServiceAccount": {
        1: ("metadata", "msg:ObjectMeta"),
        4: ("automountServiceAccountToken", "bool"),
    },
    # What `kubectl auth can-i|whoami`, `create token|role|rolebinding|clusterrole...`
    # send (k8s.io/api authorization/v1, authentication/v1, rbac/v1 generated.proto).
    "SelfSubjectAccessReview": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:SARSpec")},
    "SubjectAccessReview": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:SARSpec")},
    "LocalSubjectAccessReview": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:SARSpec")},
    "SARSpec": {
        1: ("resourceAttributes", "msg:ResourceAttributes"),
        2: ("nonResourceAttributes", "msg:NonResourceAttributes"),
        3: ("user", "str"),
        4: ("groups", "list:str"),
        6: ("uid", "str"),
    },
    "ResourceAttributes": {
        1: ("namespace", "str"),
        2: ("verb", "str"),
        3: ("group", "str"),
        4: ("version", "str"),
        5: ("resource", "str"),
        6: ("subresource", "str"),
        7: ("name", "str"),
    },
    "NonResourceAttributes": {1: ("path", "str"), 2: ("verb", "str")},
    "SelfSubjectReview": {1: ("metadata", "msg:ObjectMeta")},
    "TokenRequest": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:TokenRequestSpec")},
    "TokenRequestSpec": {
        1: ("audiences", "list:str"),
        3: ("boundObjectRef", "msg:BoundObjectReference"),
        4: ("expirationSeconds", "int"),
    },
    "BoundObjectReference": {
        1: ("kind", "str"),
        2: ("apiVersion", "str"),
        3: ("name", "str"),
        4: ("uid", "str"),
    },
    "Role": {1: ("metadata", "msg:ObjectMeta"), 2: ("rules", "list:msg:PolicyRule")},
    "ClusterRole": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("rules", "list:msg:PolicyRule"),
        3: ("aggregationRule", "msg:AggregationRule"),
    },
    "AggregationRule": {1: ("clusterRoleSelectors", "list:msg:LabelSelector")},
    "LabelSelector": {
        1: ("matchLabels", "map:str"),
        2: ("matchExpressions", "list:msg:LabelSelectorRequirement"),
    },
    "LabelSelectorRequirement": {
        1: ("key", "str"),
        2: ("operator", "str"),
        3: ("values", "list:str"),
    },
    # What `kubectl create quota` sends (core/v1); Quantity is {1: string}.
    "ResourceQuota": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:ResourceQuotaSpec")},
    "ResourceQuotaSpec": {1: ("hard", "map:quantity"), 2: ("scopes", "list:str")},
    # What `kubectl create pdb` sends (k8s.io/api policy/v1 generated.proto).
    "PodDisruptionBudget": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("spec", "msg:PodDisruptionBudgetSpec"),
    },
    "PodDisruptionBudgetSpec": {
        1: ("minAvailable", "intstr"),
        2: ("selector", "msg:LabelSelector"),
        3: ("maxUnavailable", "intstr"),
        4: ("unhealthyPodEvictionPolicy", "str"),
    },
    "PolicyRule": {
        1: ("verbs", "list:str"),
        2: ("apiGroups", "list:str"),
        3: ("resources", "list:str"),
        4: ("resourceNames", "list:str"),
        5: ("nonResourceURLs", "list:str"),
    },
    "RoleBinding": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("subjects", "list:msg:Subject"),
        3: ("roleRef", "msg:RoleRef"),
    },
    "ClusterRoleBinding": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("subjects", "list:msg:Subject"),
        3: ("roleRef", "msg:RoleRef"),
    },
    "Subject": {
        1: ("kind", "str"),
        2: ("apiGroup", "str"),
        3: ("name", "str"),
        4: ("namespace", "str"),
    },
    "RoleRef": {1: ("apiGroup", "str"), 2: ("kind", "str"), 3: ("name", "str")},
}
#: Message names that are parts of objects, never a body's kind.
_PARTS = {
    "Unknown",
    "TypeMeta",
    "ObjectMeta",
    "OwnerReference",
    "NamespaceSpec",
    "SARSpec",
    "ResourceAttributes",
    "NonResourceAttributes",
    "TokenRequestSpec",
    "BoundObjectReference",
    "AggregationRule",
    "LabelSelector",
    "LabelSelectorRequirement",
    "PodDisruptionBudgetSpec",
    "ResourceQuotaSpec",
    "PolicyRule",
    "Subject",
    "RoleRef",
}


class Unsupported(ValueError):
    pass


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if i >= len(buf):
            raise Unsupported("truncated varint")
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            yield num, value
        elif wire == 2:
            length, i = _varint(buf, i)
            yield num, buf[i : i + length]
            i += length
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise Unsupported(f"wire type {wire}")


def _scalar(kind: str, raw: int | bytes) -> Any:
    if kind == "str":
        return raw.decode() if isinstance(raw, bytes) else str(raw)
    if kind == "bytes":
        return base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw
    if kind == "bool":
        return bool(raw)
    return raw


def decode(message: str, buf: bytes) -> dict[str, Any]:
    schema = SCHEMAS[message]
    out: dict[str, Any] = {}
    for num, raw in _fields(buf):
        if num not in schema:
            continue
        name, kind = schema[num]
        if kind == "intstr":
            parts = dict(_fields(raw)) if isinstance(raw, bytes) else {}
            is_string = parts.get(1, 0) == 1
            out[name] = _scalar("str", parts.get(3, b"")) if is_string else parts.get(2, 0)
        elif kind.startswith("msg:"):
            out[name] = decode(kind[4:], raw) if isinstance(raw, bytes) else {}
        elif kind.startswith("list:"):
            inner = kind[5:]
            item = (
                decode(inner[4:], raw)
                if inner.startswith("msg:") and isinstance(raw, bytes)
                else _scalar(inner, raw)
            )
            out.setdefault(name, []).append(item)
        elif kind.startswith("map:"):
            entry = dict(_fields(raw)) if isinstance(raw, bytes) else {}
            key = _scalar("str", entry.get(1, b""))
            value = entry.get(2, b"")
            if kind == "map:quantity":
                inner = dict(_fields(value)) if isinstance(value, bytes) else {}
                out.setdefault(name, {})[key] = _scalar("str", inner.get(1, b""))
            else:
                out.setdefault(name, {})[key] = _scalar(kind[4:], value)
        else:
            out[name] = _scalar(kind, raw)
    return out


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a `k8s\\0`-framed runtime.Unknown carrying one of the SCHEMAS kinds."""
    if not body.startswith(MAGIC):
        raise Unsupported("missing protobuf magic")
    unknown = decode("Unknown", body[len(MAGIC) :])
    type_meta = unknown.get("typeMeta") or {}
    kind = type_meta.get("kind", "")
    if kind not in SCHEMAS or kind in _PARTS:
        raise Unsupported(f"protobuf bodies are not supported for kind {kind!r}")
    raw = base64.b64decode(unknown.get("raw", ""))
    obj = decode(kind, raw)
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        # gogo-protobuf encodes unset strings as empty ones; JSON omits them.
        for key in [k for k, v in meta.items() if v == ""]:
            del meta[key]
    obj["apiVersion"] = type_meta.get("apiVersion", "v1")
    obj["kind"] = kind
    return obj
