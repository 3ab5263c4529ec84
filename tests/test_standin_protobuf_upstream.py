"""The stand-in's protobuf table and decoder against upstream's own schema.

The table (`k8s_standin/pbtypes.py`) was written from types.go; these tests hold it to
the descriptors kubectl was built with (`upstream_protobuf.py`), a source it owes nothing
to: every tabled field's number, name, type, repetition and Go pointer-ness, and one
upstream message behind each table name. Then objects of every kind the stand-in takes
in protobuf are encoded with upstream's classes, sent to a running stand-in, and must be
stored exactly as the same object sent as JSON.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import upstream_protobuf
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from k8s_standin import resources, testing
from k8s_standin.pbclasses import element
from k8s_standin.pbtypes import EVERY_VERSION, KINDS, MESSAGES
from kubectl_forward import KUBECTL
from kubernetes import config
from kubernetes.client import ApiClient
from polling import eventually

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")

#: Table fields that kubectl 1.32's schema lacks because they came later (the table is at
#: k8s.io/api v0.36.3), each with the first k8s.io/api tag whose types.go has it. A later
#: kubectl has them, and then they are checked like the rest.
NEWER_THAN_KUBECTL = {
    ("DeploymentStatus", 9): "terminatingReplicas, v0.33.0",
    ("ReplicaSetStatus", 7): "terminatingReplicas, v0.33.0",
    ("EndpointHints", 2): "forNodes, v0.33.0",
    ("NodeSystemInfo", 11): "swap, v0.33.0",
    ("PodStatus", 17): "observedGeneration, v0.33.0",
    ("PodSpec", 41): "hostnameOverride, v0.34.0",
    ("NodeStatus", 14): "declaredFeatures, v0.35.0",
    ("PodStatus", 19): "allocatedResources, v0.35.0",
    ("PodStatus", 20): "resources, v0.35.0",
}

_SCALARS = {
    "string": FieldDescriptor.TYPE_STRING,
    "bytes": FieldDescriptor.TYPE_BYTES,
    "bool": FieldDescriptor.TYPE_BOOL,
    "int32": FieldDescriptor.TYPE_INT32,
    "int64": FieldDescriptor.TYPE_INT64,
}

#: Tabled kinds whose types are not in k8s.io/api, so kubectl's binary carries no schema
#: of them; their tables were compared with upstream's generated.proto at the cited tag
#: when written (pbtypes.py), and test_standin_protobuf.py checks their JSON forms.
#: Each with its message's full name in its own generated.proto.
OUTSIDE_KUBECTL = {
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): (
        "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
    ),
    ("apiregistration.k8s.io/v1", "APIService"): (
        "k8s.io.kube_aggregator.pkg.apis.apiregistration.v1.APIService"
    ),
}


def _reached_only_from_outside() -> set[str]:
    """Table messages that only the kinds outside kubectl's schema lead to."""

    def reach(roots: set[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(element(s[1]) for s in MESSAGES[name].values() if element(s[1]) in MESSAGES)
        return seen

    inside = {name for key, name in KINDS.items() if key not in OUTSIDE_KUBECTL}
    outside = {KINDS[key] for key in OUTSIDE_KUBECTL}
    return reach(outside) - reach(inside | set(_APIMACHINERY))


#: Table names of messages that live in apimachinery rather than k8s.io/api.
_APIMACHINERY = {
    "DeleteOptions": "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "Unknown": "k8s.io.apimachinery.pkg.runtime.Unknown",
}


@pytest.fixture(scope="module")
def schema() -> upstream_protobuf.Schema:
    assert KUBECTL is not None
    loaded = upstream_protobuf.load(KUBECTL)
    if loaded is None:
        pytest.skip(f"{KUBECTL} registers no protobuf descriptors to check against")
    return loaded


_LEAF_NAMES = {"IntOrString", "Quantity", "Time", "MicroTime", "RawExtension"}
#: Messages whose Go type is not generated from a struct (apimachinery marshals them by
#: hand), so gogo's nullable option says nothing of a Go pointer there.
_HAND_WRITTEN = _LEAF_NAMES | {"Unknown", "TypeMeta"}


class Audit:
    """Walks the table from its kinds beside upstream's messages, noting each mismatch."""

    def __init__(self) -> None:
        self.upstream_of: dict[str, str] = {}
        self.problems: list[str] = []
        self.missing: set[tuple[str, int]] = set()
        self._walked: set[str] = set()

    def walk(self, name: str, upstream: Descriptor) -> None:
        seen = self.upstream_of.setdefault(name, upstream.full_name)
        if seen != upstream.full_name:
            self.problems.append(f"{name} stands for both {seen} and {upstream.full_name}")
            return
        if seen in self._walked:
            return
        self._walked.add(seen)
        for number, spec in MESSAGES[name].items():
            field = upstream.fields_by_number.get(number)
            if field is None:
                self.missing.add((name, number))
                continue
            self._field(name, number, spec[0], spec[1], field)

    def run(self, roots: dict[str, Descriptor]) -> None:
        for name, upstream in roots.items():
            self.walk(name, upstream)

    def _field(
        self, name: str, number: int, json_name: str, type_name: str, field: FieldDescriptor
    ) -> None:
        where = f"{name} field {number} ({json_name or 'inline'}, upstream {field.name})"
        # go-to-protobuf names a field after its JSON tag, but after the Go name where the
        # two differ past case (BoundObjectReference's `uid` is `uID`), so case is left aside.
        if json_name and json_name.lower() != field.name.lower():
            self.problems.append(f"{where}: upstream names it {field.name!r}")
        inner = element(type_name)
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        if type_name.startswith("map[string]"):
            if not is_map:
                self.problems.append(f"{where}: tabled as a map, upstream is not")
                return
            field = field.message_type.fields_by_name["value"]
        elif is_map:
            self.problems.append(f"{where}: upstream is a map, tabled as {type_name}")
            return
        elif type_name.startswith("[]") != (upstream_protobuf.repeated(field)):
            self.problems.append(f"{where}: repetition differs from upstream")
            return
        if inner in _SCALARS:
            if field.type != _SCALARS[inner]:
                self.problems.append(f"{where}: tabled {inner}, upstream type {field.type}")
            elif name not in _HAND_WRITTEN and not type_name.startswith(("[]", "map[")):
                pointer = type_name.startswith("*")
                if pointer != upstream_protobuf.nullable(field):
                    go = "a pointer" if upstream_protobuf.nullable(field) else "a value"
                    self.problems.append(f"{where}: upstream's Go field is {go}")
            return
        if field.message_type is None:
            self.problems.append(f"{where}: tabled as message {inner}, upstream is a scalar")
            return
        if inner == "IntOrString" and type_name.startswith("*") != upstream_protobuf.nullable(
            field
        ):
            self.problems.append(f"{where}: IntOrString pointer-ness differs from upstream")
        self.walk(inner, field.message_type)


def _roots(schema: upstream_protobuf.Schema) -> dict[str, Descriptor]:
    roots = {name: schema.message(full) for name, full in _APIMACHINERY.items()}
    for (api_version, kind), name in KINDS.items():
        if (api_version, kind) not in OUTSIDE_KUBECTL:
            roots[name] = schema.kind(api_version, kind)
    return roots


def test_the_table_matches_the_schema_kubectl_was_built_with(
    schema: upstream_protobuf.Schema,
) -> None:
    audit = Audit()
    audit.run(_roots(schema))
    assert not audit.problems, "\n".join(audit.problems)
    unexplained = audit.missing - set(NEWER_THAN_KUBECTL)
    assert not unexplained, f"tabled fields kubectl's schema lacks: {sorted(unexplained)}"
    # Every tabled message is reached from a kind, so none escapes the audit, but for
    # those that only fields newer than kubectl lead to.
    newer = {element(MESSAGES[name][number][1]) for name, number in audit.missing}
    assert set(MESSAGES) - set(audit.upstream_of) <= newer | _reached_only_from_outside()


def test_only_the_kinds_outside_kubectls_schema_escape_the_audit(
    schema: upstream_protobuf.Schema,
) -> None:
    """The exemption is for groups kubectl was not built with, and for nothing else."""
    for full_name in OUTSIDE_KUBECTL.values():
        with pytest.raises(KeyError):
            schema.message(full_name)
    outside = _reached_only_from_outside()
    assert {"CustomResourceDefinition", "JSONSchemaProps", "APIService"} <= outside
    # Shared apimachinery messages stay audited through the k8s.io/api kinds.
    assert not outside & {"ObjectMeta", "Time", "OwnerReference"}


@pytest.mark.parametrize(
    ("message", "number", "spec", "expected"),
    [
        # core/v1 EndpointPort's numbering where discovery/v1's belongs
        ("DiscoveryEndpointPort", 2, ("port", "*int32"), "upstream names it 'protocol'"),
        ("StatefulSetSpec", 1, ("replicas", "int32"), "Go field is a pointer"),
        ("StatefulSetSpec", 9, ("minReadySeconds", "*int32"), "Go field is a value"),
        ("LeaseSpec", 2, ("leaseDurationSeconds", "*int64"), "tabled int64"),
        ("NodeSpec", 7, ("podCIDRs", "string"), "repetition differs"),
        ("StorageClass", 3, ("parameters", "[]string"), "upstream is a map"),
        ("EndpointSubset", 3, ("ports", "[]DiscoveryEndpointPort"), "stands for both"),
    ],
)
def test_the_audit_finds_a_wrong_entry(
    schema: upstream_protobuf.Schema,
    monkeypatch: pytest.MonkeyPatch,
    message: str,
    number: int,
    spec: tuple[str, str],
    expected: str,
) -> None:
    monkeypatch.setitem(MESSAGES, message, {**MESSAGES[message], number: spec})
    audit = Audit()
    audit.run(_roots(schema))
    assert any(expected in problem for problem in audit.problems), audit.problems


def test_every_version_kinds_are_apimachinery_messages() -> None:
    assert set(EVERY_VERSION) <= set(_APIMACHINERY)


# -- the same objects through a running stand-in, as protobuf and as JSON -------------

_META: dict[str, Any] = {"labels": {"app": "pb"}, "annotations": {"note": "x"}}
_POD_TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "pb"}},
    "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]},
}
_TIME = "2026-01-02T03:04:05Z"
_MICRO = "2026-01-02T03:04:05.123456Z"

#: One object of each kind the stand-in takes in protobuf (pbtypes.KINDS), with zero
#: values in pointer fields, where protobuf must tell "sent as zero" from "not sent".
SAMPLES: list[dict[str, Any]] = [
    {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "pb"}},
            "serviceName": "pb",
            "template": _POD_TEMPLATE,
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 0,
            "minReadySeconds": 3,
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Delete",
                "whenScaled": "Retain",
            },
            "ordinals": {"start": 2},
        },
    },
    {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "spec": {
            "selector": {"matchLabels": {"app": "pb"}},
            "template": {
                **_POD_TEMPLATE,
                "spec": {**_POD_TEMPLATE["spec"], "nodeSelector": {"no-such": "node"}},
            },
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "50%", "maxSurge": 0},
            },
            "minReadySeconds": 1,
            "revisionHistoryLimit": 4,
        },
    },
    {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "spec": {
            "replicas": 0,
            "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["pb"]}]},
            "template": _POD_TEMPLATE,
        },
    },
    {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "data": {"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}},
        "revision": 3,
    },
    {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "spec": {
            "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
            "resources": {"requests": {"storage": "512Mi"}, "limits": {"storage": "1Gi"}},
            "storageClassName": "",
            "volumeMode": "Filesystem",
            "selector": {"matchLabels": {"tier": "a"}},
        },
    },
    {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "spec": {
            "capacity": {"storage": "2Gi"},
            "hostPath": {"path": "/srv/pb", "type": "DirectoryOrCreate"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "manual",
            "mountOptions": ["ro"],
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["a"]}
                            ]
                        }
                    ]
                }
            },
        },
    },
    {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "spec": {
            "capacity": {"storage": "1Gi"},
            "csi": {
                "driver": "csi.example.com",
                "volumeHandle": "vol-1",
                "readOnly": True,
                "volumeAttributes": {"a": "b"},
                "nodePublishSecretRef": {"name": "s", "namespace": "default"},
            },
            "accessModes": ["ReadWriteMany"],
            "volumeMode": "Block",
        },
    },
    {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "provisioner": "example.com/pb",
        "parameters": {"type": "fast"},
        "reclaimPolicy": "Retain",
        "mountOptions": ["noatime"],
        "allowVolumeExpansion": False,
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowedTopologies": [
            {"matchLabelExpressions": [{"key": "topology.kubernetes.io/zone", "values": ["z"]}]}
        ],
    },
    {
        "apiVersion": "v1",
        "kind": "Node",
        "spec": {
            "podCIDR": "10.99.0.0/24",
            "podCIDRs": ["10.99.0.0/24", "fd99::/64"],
            "unschedulable": True,
            "taints": [{"key": "pb", "value": "x", "effect": "NoSchedule"}],
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "subsets": [
            {
                "addresses": [{"ip": "10.0.0.1", "hostname": "a", "nodeName": "n"}],
                "notReadyAddresses": [{"ip": "10.0.0.2"}],
                "ports": [{"name": "web", "port": 80, "protocol": "TCP", "appProtocol": "http"}],
            }
        ],
    },
    {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": ["10.0.0.1"],
                "conditions": {"ready": True, "serving": False, "terminating": False},
                "hostname": "a",
                "nodeName": "n",
                "zone": "z",
                "hints": {"forZones": [{"name": "z"}]},
            }
        ],
        "ports": [{"name": "", "protocol": "TCP", "port": 80, "appProtocol": "http"}],
    },
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchLabels": {"a": "b"}}},
                        {"namespaceSelector": {}},
                        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                    ],
                    "ports": [{"protocol": "TCP", "port": 80, "endPort": 90}, {"port": "http"}],
                }
            ],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}],
        },
    },
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "spec": {
            "controller": "example.com/ingress",
            "parameters": {
                "apiGroup": "example.com",
                "kind": "Params",
                "name": "p",
                "scope": "Namespace",
                "namespace": "default",
            },
        },
    },
    {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "spec": {
            "holderIdentity": "",
            "leaseDurationSeconds": 0,
            "acquireTime": _MICRO,
            "renewTime": _MICRO,
            "leaseTransitions": 0,
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Event",
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default", "apiVersion": "v1"},
        "reason": "Pulled",
        "message": "done",
        "source": {"component": "kubelet", "host": "n"},
        "firstTimestamp": _TIME,
        "lastTimestamp": _TIME,
        "count": 2,
        "type": "Normal",
        "reportingComponent": "kubelet",
        "reportingInstance": "n",
    },
    {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "eventTime": _MICRO,
        "series": {"count": 2, "lastObservedTime": _MICRO},
        "reportingController": "example.com/pb",
        "reportingInstance": "pb-1",
        "action": "Sync",
        "reason": "Synced",
        "regarding": {"kind": "Pod", "name": "p", "namespace": "default"},
        "note": "synced",
        "type": "Normal",
    },
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "pb"}},
            "template": _POD_TEMPLATE,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
        },
    },
]

#: What differs between two objects of one content: identity, and what the server or
#: its controllers write of their own.
PROTOBUF = "application/vnd.kubernetes.protobuf"
_SERVER_SET = {"name", "uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"}


def _path(obj: dict[str, Any], namespace: str) -> str:
    """The collection of the object's kind, as the stand-in serves it."""
    res = resources.by_kind(obj["apiVersion"], obj["kind"])
    assert res is not None, (obj["apiVersion"], obj["kind"])
    base = f"/apis/{res.api_version}" if res.group else f"/api/{res.api_version}"
    scope = f"/namespaces/{namespace}" if res.namespaced else ""
    return f"{base}{scope}/{res.plural}"


def _comparable(stored: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(stored)
    for key in _SERVER_SET:
        out["metadata"].pop(key, None)
    out.pop("status", None)
    return out


class Api:
    """Raw requests to the stand-in with the kubeconfig's credentials."""

    def __init__(self, kubeconfig: str) -> None:
        self.client: ApiClient = config.new_client_from_config(config_file=kubeconfig)
        self.host = self.client.configuration.host

    def send(self, method: str, path: str, body: bytes, content_type: str) -> Any:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        response = self.client.rest_client.pool_manager.request(
            method, self.host + path, body=body, headers=headers
        )
        assert response.status < 300, (method, path, response.status, response.data[:600])
        return json.loads(response.data)

    def request(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        """Any request with a protobuf body (or none); the status and the JSON answer."""
        headers = {"Accept": "application/json"}
        if body:
            headers["Content-Type"] = PROTOBUF
        response = self.client.rest_client.pool_manager.request(
            method, self.host + path, body=body or None, headers=headers
        )
        return response.status, json.loads(response.data)

    def get(self, path: str) -> Any:
        response = self.client.rest_client.pool_manager.request(
            "GET", self.host + path, headers={"Accept": "application/json"}
        )
        assert response.status == 200, (path, response.status, response.data[:600])
        return json.loads(response.data)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with testing.running(testing.k3s(tmp_path_factory.mktemp("pb"))) as standin:
        api = Api(str(standin.kubeconfig))
        # Pods are admitted once their namespace's default ServiceAccount exists, which a
        # controller makes after start.
        account = "/api/v1/namespaces/default/serviceaccounts/default"
        eventually(lambda: api.request("GET", account, b"")[0] == 200, timeout=30)
        yield api


@pytest.mark.parametrize(
    "sample", SAMPLES, ids=[f"{s['apiVersion']}-{s['kind']}-{i}" for i, s in enumerate(SAMPLES)]
)
def test_an_object_sent_as_upstream_protobuf_is_stored_as_its_json(
    schema: upstream_protobuf.Schema, api: Api, sample: dict[str, Any]
) -> None:
    index = SAMPLES.index(sample)
    base = f"pb-{sample['kind'].lower()}-{index}"
    as_json = {**sample, "metadata": {**_META, "name": base + "-json"}}
    as_protobuf = {**sample, "metadata": {**_META, "name": base + "-pb"}}
    path = _path(sample, "default")
    api.send("POST", path, json.dumps(as_json).encode(), "application/json")
    api.send("POST", path, upstream_protobuf.encode(schema, as_protobuf), PROTOBUF)
    from_json = api.get(f"{path}/{base}-json")
    from_protobuf = api.get(f"{path}/{base}-pb")
    assert _comparable(from_protobuf) == _comparable(from_json)


def test_a_protobuf_binding_assigns_the_pod(schema: upstream_protobuf.Schema, api: Api) -> None:
    """What a scheduler posts to pods/binding, as client-go encodes it."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pb-bound"},
        # A selector no node matches, so only this binding places the pod.
        "spec": {**_POD_TEMPLATE["spec"], "nodeSelector": {"no-such": "node"}},
    }
    api.send(
        "POST", "/api/v1/namespaces/default/pods", json.dumps(pod).encode(), "application/json"
    )
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "pb-bound"},
        "target": {"kind": "Node", "name": "picked-node"},
    }
    path = "/api/v1/namespaces/default/pods/pb-bound"
    api.send("POST", f"{path}/binding", upstream_protobuf.encode(schema, binding), PROTOBUF)
    assert api.get(path)["spec"]["nodeName"] == "picked-node"


def test_a_protobuf_scale_sets_the_replicas(schema: upstream_protobuf.Schema, api: Api) -> None:
    """What the HPA and `kubectl scale`'s typed clients PUT to a scale subresource."""
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "pb-scaled"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "pbs"}},
            "template": {**_POD_TEMPLATE, "metadata": {"labels": {"app": "pbs"}}},
        },
    }
    path = "/apis/apps/v1/namespaces/default/replicasets"
    api.send("POST", path, json.dumps(replica_set).encode(), "application/json")
    scale = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "pb-scaled", "namespace": "default"},
        "spec": {"replicas": 2},
    }
    answer = api.send(
        "PUT", f"{path}/pb-scaled/scale", upstream_protobuf.encode(schema, scale), PROTOBUF
    )
    assert answer["spec"]["replicas"] == 2
    assert api.get(f"{path}/pb-scaled")["spec"]["replicas"] == 2


def test_protobuf_delete_options_are_honoured(schema: upstream_protobuf.Schema, api: Api) -> None:
    """A typed client's DELETE carries DeleteOptions in protobuf under the resource's own
    apiVersion; a precondition on another uid must refuse the delete."""
    path = "/api/v1/namespaces/default/configmaps"
    created = api.send(
        "POST", path, json.dumps({"metadata": {"name": "pb-gone"}}).encode(), "application/json"
    )
    wrong = {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "preconditions": {"uid": "00000000-0000-0000-0000-000000000000"},
    }
    status, body = api.request("DELETE", f"{path}/pb-gone", _protobuf_options(schema, wrong))
    assert status == 409, body
    right = {**wrong, "preconditions": {"uid": created["metadata"]["uid"]}}
    status, body = api.request("DELETE", f"{path}/pb-gone", _protobuf_options(schema, right))
    assert status == 200, body
    assert api.request("GET", f"{path}/pb-gone", b"")[0] == 404


def _protobuf_options(schema: upstream_protobuf.Schema, options: dict[str, Any]) -> bytes:
    return upstream_protobuf.encode(
        schema, options, schema.message("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions")
    )
