"""The stand-in's protobuf request bodies: classes built from its table, and strict decoding.

Round trips encode with the same run-time classes the decoder uses; the hand-assembled
bodies below are written from the wire format alone (tag = number << 3 | wire type,
varints, length-delimited fields) as gogo-protobuf lays Kubernetes objects out, so the
decoder is also checked against bytes it did not make.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest
from k8s_standin import pbclasses, protobuf
from k8s_standin.pbtypes import KINDS, MESSAGES


def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([byte])
        out += bytes([byte | 0x80])


def _bytes(num: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): strings, bytes, messages, map entries."""
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _int(num: int, value: int) -> bytes:
    """A varint field (wire type 0)."""
    return _varint(num << 3) + _varint(value)


def _str(num: int, text: str) -> bytes:
    return _bytes(num, text.encode())


def _entry(num: int, key: str, value: bytes) -> bytes:
    return _bytes(num, _str(1, key) + _bytes(2, value))


def _body(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _str(1, api_version) + _str(2, kind)
    unknown = _bytes(1, type_meta) + _bytes(2, raw) + _str(3, "") + _str(4, "")
    return protobuf.MAGIC + unknown


def _meta(name: str, *extra: bytes) -> bytes:
    """ObjectMeta as gogo writes it: its plain fields are always there, even empty."""
    plain = _str(1, name) + _str(2, "") + _str(3, "") + _str(4, "") + _str(5, "") + _str(6, "")
    return plain + _int(7, 0) + _bytes(8, b"") + b"".join(extra)


def _envelope(kind: str, msg: Any) -> bytes:
    unknown = pbclasses.new("Unknown")
    unknown.typeMeta.apiVersion = next(version for version, name in KINDS if name == kind)
    unknown.typeMeta.kind = kind
    unknown.raw = msg.SerializeToString()
    return protobuf.MAGIC + unknown.SerializeToString()


def test_every_tabled_message_builds() -> None:
    for name in MESSAGES:
        assert pbclasses.new(name).DESCRIPTOR.name == name
    assert set(KINDS.values()) <= set(MESSAGES)


def test_hand_assembled_configmap() -> None:
    raw = _bytes(1, _meta("cm", _entry(11, "app", b"x"))) + _entry(2, "k", b"v")
    assert protobuf.decode_object(_body("v1", "ConfigMap", raw)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "labels": {"app": "x"}},
        "data": {"k": "v"},
    }


def test_hand_assembled_secret_data_is_base64() -> None:
    raw = _bytes(1, _meta("s")) + _entry(2, "pw", b"\x00x y") + _str(3, "Opaque")
    obj = protobuf.decode_object(_body("v1", "Secret", raw))
    assert obj["data"] == {"pw": base64.b64encode(b"\x00x y").decode()}
    assert obj["type"] == "Opaque"


def test_hand_assembled_deployment() -> None:
    """`kubectl create deployment web --image=nginx --port=80 --replicas=2`, laid out as
    gogo writes it: plain strings, ints and bools always, pointers only when set."""
    port = _str(1, "") + _int(2, 0) + _int(3, 80) + _str(4, "") + _str(5, "")
    container = (
        _str(1, "nginx")
        + _str(2, "nginx")
        + _str(5, "")
        + _bytes(6, port)
        + _bytes(8, b"")
        + _str(13, "")
        + _str(14, "")
        + _int(16, 0)
        + _int(17, 0)
        + _int(18, 0)
        + _str(20, "")
    )
    pod_spec = _bytes(2, container) + _str(3, "") + _str(6, "") + _str(8, "") + _str(9, "")
    pod_spec += _str(10, "") + _int(11, 0) + _int(12, 0) + _int(13, 0) + _str(16, "")
    pod_spec += _str(17, "") + _str(19, "") + _str(24, "")
    template = _bytes(1, _meta("", _entry(11, "app", b"web"))) + _bytes(2, pod_spec)
    spec = (
        _int(1, 2)
        + _bytes(2, _entry(1, "app", b"web"))
        + _bytes(3, template)
        + _bytes(4, _str(1, ""))
        + _int(5, 0)
        + _int(7, 0)
    )
    status = _int(1, 0) + _int(2, 0) + _int(3, 0) + _int(4, 0) + _int(5, 0) + _int(7, 0)
    raw = _bytes(1, _meta("web", _entry(11, "app", b"web"))) + _bytes(2, spec)
    obj = protobuf.decode_object(_body("apps/v1", "Deployment", raw + _bytes(3, status)))
    assert obj == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx",
                            "ports": [{"containerPort": 80}],
                            "resources": {},
                        }
                    ]
                },
            },
            "strategy": {},
        },
        "status": {},
    }


def test_hand_assembled_int_or_string_and_time() -> None:
    """A PodDisruptionBudget: minAvailable as a string (IntOrString type 1), and a
    disrupted pod's Time (seconds since the epoch)."""
    spec = _bytes(1, _int(1, 1) + _int(2, 0) + _str(3, "50%"))
    status = _entry(2, "p", _int(1, 1_700_000_000)) + _int(3, 0) + _int(4, 0) + _int(5, 0)
    raw = _bytes(1, _meta("b")) + _bytes(2, spec) + _bytes(3, status + _int(6, 0))
    obj = protobuf.decode_object(_body("policy/v1", "PodDisruptionBudget", raw))
    assert obj["spec"] == {"minAvailable": "50%"}
    assert obj["status"] == {
        "disruptedPods": {"p": "2023-11-14T22:13:20Z"},
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    }


def test_unknown_field_is_refused_with_message_and_number() -> None:
    raw = _bytes(1, _meta("cm", _str(99, "surprise")))
    with pytest.raises(protobuf.Unsupported, match="ObjectMeta field 99"):
        protobuf.decode_object(_body("v1", "ConfigMap", raw))


def test_untabled_nested_message_is_refused() -> None:
    """A projected volume (VolumeSource 26, inlined in Volume as its field 2) is not in
    the table: a pod with one is refused, not decoded without it."""
    volume = _str(1, "data") + _bytes(2, _bytes(26, b""))
    pod_spec = _bytes(1, volume) + _bytes(2, _str(1, "c") + _str(2, "busybox"))
    raw = _bytes(1, _meta("p")) + _bytes(2, pod_spec)
    with pytest.raises(protobuf.Unsupported, match="VolumeSource field 26 "):
        protobuf.decode_object(_body("v1", "Pod", raw))


def test_wrong_wire_type_is_refused() -> None:
    """ConfigMap data (2) as a varint is not the map the table knows."""
    raw = _bytes(1, _meta("cm")) + _int(2, 5)
    with pytest.raises(protobuf.Unsupported, match="ConfigMap field 2"):
        protobuf.decode_object(_body("v1", "ConfigMap", raw))


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("policy/v1beta1", "PodDisruptionBudget"),
        ("events.k8s.io/v1", "EventsEvent"),
        ("v1", "ObjectMeta"),
        ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
        # Custom objects are JSON only, upstream as here.
        ("stable.example.com/v1", "CronTab"),
    ],
)
def test_untabled_kinds_are_refused(api_version: str, kind: str) -> None:
    with pytest.raises(protobuf.Unsupported, match="not supported"):
        protobuf.decode_object(_body(api_version, kind, b""))


def test_bad_bodies_are_refused() -> None:
    with pytest.raises(protobuf.Unsupported, match="magic"):
        protobuf.decode_object(b"not protobuf")
    with pytest.raises(protobuf.Unsupported):
        protobuf.decode_object(protobuf.MAGIC + b"\x0a\xff")


def test_round_trip_service() -> None:
    svc = pbclasses.new("Service")
    svc.metadata.name = "web"
    svc.spec.type = "ClusterIP"
    svc.spec.selector["app"] = "web"
    named = svc.spec.ports.add(name="5678-8080", protocol="TCP", port=5678)
    named.targetPort.intVal = 8080
    unset = svc.spec.ports.add(port=80)
    unset.targetPort.SetInParent()  # gogo writes the zero IntOrString
    svc.status.loadBalancer.SetInParent()
    obj = protobuf.decode_object(_envelope("Service", svc))
    assert obj["spec"] == {
        "ports": [
            {"name": "5678-8080", "protocol": "TCP", "port": 5678, "targetPort": 8080},
            {"port": 80},
        ],
        "selector": {"app": "web"},
        "type": "ClusterIP",
    }
    assert obj["status"] == {"loadBalancer": {}}


def test_round_trip_ingress_inlines_the_rule_value() -> None:
    ing = pbclasses.new("Ingress")
    ing.metadata.name = "site"
    ing.spec.ingressClassName = "traefik"
    rule = ing.spec.rules.add(host="example.com")
    path = rule.inline2.http.paths.add(path="/", pathType="Prefix")
    path.backend.service.name = "web"
    path.backend.service.port.number = 80
    ing.spec.tls.add(hosts=["example.com"], secretName="tls")
    obj = protobuf.decode_object(_envelope("Ingress", ing))
    assert obj["spec"] == {
        "ingressClassName": "traefik",
        "tls": [{"hosts": ["example.com"], "secretName": "tls"}],
        "rules": [
            {
                "host": "example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "web", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ],
    }


def test_round_trip_cronjob_and_pointers_kept_when_zero() -> None:
    cron = pbclasses.new("CronJob")
    cron.metadata.name = "tick"
    cron.spec.schedule = "*/1 * * * *"
    cron.spec.suspend = False
    job = cron.spec.jobTemplate.spec
    job.backoffLimit = 0
    pod = job.template.spec
    pod.restartPolicy = "OnFailure"
    pod.containers.add(name="tick", image="busybox", command=["date"])
    obj = protobuf.decode_object(_envelope("CronJob", cron))
    assert obj["spec"] == {
        "schedule": "*/1 * * * *",
        "suspend": False,
        "jobTemplate": {
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "containers": [{"name": "tick", "image": "busybox", "command": ["date"]}],
                        "restartPolicy": "OnFailure",
                    }
                },
            }
        },
    }


def test_round_trip_pod_and_priority_class() -> None:
    pod = pbclasses.new("Pod")
    pod.metadata.name = "p"
    pod.metadata.creationTimestamp.SetInParent()  # the zero Time: left out
    c = pod.spec.containers.add(name="c", image="busybox", args=["sleep", "1"])
    c.env.add(name="A", value="1")
    c.env.add(name="EMPTY")
    c.securityContext.privileged = True
    c.resources.requests["cpu"].string = "100m"
    obj = protobuf.decode_object(_envelope("Pod", pod))
    assert obj["metadata"] == {"name": "p"}
    assert obj["spec"]["containers"] == [
        {
            "name": "c",
            "image": "busybox",
            "args": ["sleep", "1"],
            "env": [{"name": "A", "value": "1"}, {"name": "EMPTY"}],
            "resources": {"requests": {"cpu": "100m"}},
            "securityContext": {"privileged": True},
        }
    ]
    pc = pbclasses.new("PriorityClass")
    pc.metadata.name = "zero"
    pc.value = 0  # value has no omitempty: JSON keeps 0
    obj = protobuf.decode_object(_envelope("PriorityClass", pc))
    assert obj == {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "zero"},
        "value": 0,
    }


def test_round_trip_volumes_env_sources_and_probes_inline() -> None:
    """Volume's source, a selector's LocalObjectReference and a probe's handler are
    inlined structs: their fields join the parent's in JSON."""
    pod = pbclasses.new("Pod")
    pod.metadata.name = "p"
    spec = pod.spec
    spec.volumes.add(name="conf").inline2.configMap.inline1.name = "settings"
    spec.volumes.add(name="scratch").inline2.emptyDir.sizeLimit.string = "1Gi"
    spec.tolerations.add(key="k", operator="Exists", effect="NoSchedule")
    c = spec.containers.add(name="c", image="busybox")
    c.volumeMounts.add(name="conf", mountPath="/etc/app", readOnly=True)
    env = c.env.add(name="KEY")
    env.valueFrom.secretKeyRef.inline1.name = "creds"
    env.valueFrom.secretKeyRef.key = "key"
    c.envFrom.add(prefix="APP_").configMapRef.inline1.name = "settings"
    c.readinessProbe.inline1.httpGet.path = "/healthz"
    c.readinessProbe.inline1.httpGet.port.type = 1
    c.readinessProbe.inline1.httpGet.port.strVal = "http"
    c.readinessProbe.periodSeconds = 5
    obj = protobuf.decode_object(_envelope("Pod", pod))
    assert obj["spec"]["volumes"] == [
        {"name": "conf", "configMap": {"name": "settings"}},
        {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
    ]
    assert obj["spec"]["tolerations"] == [
        {"key": "k", "operator": "Exists", "effect": "NoSchedule"}
    ]
    (container,) = obj["spec"]["containers"]
    assert container["volumeMounts"] == [
        {"name": "conf", "readOnly": True, "mountPath": "/etc/app"}
    ]
    assert container["env"] == [
        {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "key"}}}
    ]
    assert container["envFrom"] == [{"prefix": "APP_", "configMapRef": {"name": "settings"}}]
    assert container["readinessProbe"] == {
        "httpGet": {"path": "/healthz", "port": "http"},
        "periodSeconds": 5,
    }


def test_micro_time() -> None:
    t = pbclasses.new("MicroTime")
    t.seconds, t.nanos = 1_700_000_000, 123_456_789
    assert protobuf._leaf("MicroTime", t) == "2023-11-14T22:13:20.123456Z"


def _schema(props: Any, **fields: Any) -> Any:
    for key, value in fields.items():
        setattr(props, key, value)
    return props


def test_round_trip_crd_schema_unions_and_json_values() -> None:
    """The JSON forms of apiextensions/v1 marshal.go: JSON values, the three unions, and
    schema keys that are not identifiers (`$ref`, `x-kubernetes-*`)."""
    crd = pbclasses.new("CustomResourceDefinition")
    crd.metadata.name = "gadgets.example.com"
    spec = crd.spec
    spec.group, spec.scope = "example.com", "Namespaced"
    spec.names.plural, spec.names.kind = "gadgets", "Gadget"
    spec.names.shortNames.append("gd")
    spec.conversion.strategy = "Webhook"
    hook = spec.conversion.webhook
    hook.conversionReviewVersions.append("v1")
    hook.clientConfig.service.namespace, hook.clientConfig.service.name = "sys", "conv"
    hook.clientConfig.service.port = 8443
    hook.clientConfig.caBundle = b"\x00ca"
    version = spec.versions.add(name="v1", served=True, storage=True)
    version.subresources.status.SetInParent()  # the empty struct turns /status on
    version.subresources.scale.specReplicasPath = ".spec.replicas"
    version.subresources.scale.statusReplicasPath = ".status.replicas"
    version.additionalPrinterColumns.add(name="Size", type="integer", jsonPath=".spec.size")
    root = version.schema.openAPIV3Schema
    root.type = "object"
    size = _schema(root.properties["size"], type="number", maximum=10.0, minimum=0.5)
    size.default.raw = b"1"
    _schema(root.properties["mode"], type="string").enum.add(raw=b'"fast"')
    root.properties["mode"].enum.add(raw=b'"slow"')
    # items as one schema, and as a list of schemas (tuple validation)
    root.properties["tags"].type = "array"
    root.properties["tags"].items.schema.type = "string"
    root.properties["tags"].field42 = "set"  # x-kubernetes-list-type
    pair = root.properties["pair"]
    pair.items.jSONSchemas.add(type="string")
    pair.items.jSONSchemas.add(type="integer")
    # additionalProperties as false, and as a schema
    root.additionalProperties.allows = False
    labels = root.properties["labels"]
    labels.type = "object"
    labels.additionalProperties.allows = True
    labels.additionalProperties.schema.type = "string"
    # dependencies as a list of property names, and as a schema
    root.dependencies["size"].property.append("mode")
    root.dependencies["mode"].schema.required.append("size")
    free = root.properties["free"]
    free.field38 = True  # x-kubernetes-preserve-unknown-fields
    free.field3 = "#/definitions/free"  # $ref
    rule = root.field44.add(rule="self.size >= 0", reason="FieldValueInvalid")
    rule.optionalOldSelf = False
    obj = protobuf.decode_object(_envelope("CustomResourceDefinition", crd))
    assert obj["spec"] == {
        "group": "example.com",
        "names": {"plural": "gadgets", "shortNames": ["gd"], "kind": "Gadget"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "free": {
                                "$ref": "#/definitions/free",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                            "labels": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                            "mode": {"type": "string", "enum": ["fast", "slow"]},
                            "pair": {"items": [{"type": "string"}, {"type": "integer"}]},
                            "size": {"type": "number", "default": 1, "maximum": 10, "minimum": 0.5},
                            "tags": {
                                "type": "array",
                                "items": {"type": "string"},
                                "x-kubernetes-list-type": "set",
                            },
                        },
                        "additionalProperties": False,
                        "dependencies": {"mode": {"required": ["size"]}, "size": ["mode"]},
                        "x-kubernetes-validations": [
                            {
                                "rule": "self.size >= 0",
                                "reason": "FieldValueInvalid",
                                "optionalOldSelf": False,
                            }
                        ],
                    }
                },
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                    },
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
                ],
            }
        ],
        "conversion": {
            "strategy": "Webhook",
            "webhook": {
                "clientConfig": {
                    "service": {"namespace": "sys", "name": "conv", "port": 8443},
                    "caBundle": base64.b64encode(b"\x00ca").decode(),
                },
                "conversionReviewVersions": ["v1"],
            },
        },
    }


def test_hand_assembled_schema_with_a_double_and_an_extension_field() -> None:
    """A CRD body written from the wire format: `maximum` is a fixed64 double (wire type
    1) and `x-kubernetes-preserve-unknown-fields` field 38, a varint."""
    maximum = _varint(9 << 3 | 1) + struct.pack("<d", 2.5)
    props = _str(5, "object") + maximum + _int(38, 1)
    version = _str(1, "v1") + _int(2, 1) + _int(3, 1) + _bytes(4, _bytes(1, props))
    names = _str(1, "things") + _str(4, "Thing")
    spec = _str(1, "example.com") + _bytes(3, names) + _str(4, "Cluster") + _bytes(7, version)
    raw = _bytes(1, _meta("things.example.com")) + _bytes(2, spec) + _bytes(3, b"")
    obj = protobuf.decode_object(_body("apiextensions.k8s.io/v1", "CustomResourceDefinition", raw))
    assert obj["spec"]["versions"][0]["schema"] == {
        "openAPIV3Schema": {
            "type": "object",
            "maximum": 2.5,
            "x-kubernetes-preserve-unknown-fields": True,
        }
    }
    assert obj["spec"]["scope"] == "Cluster"


def test_round_trip_apiservice() -> None:
    svc = pbclasses.new("APIService")
    svc.metadata.name = "v1beta1.metrics.k8s.io"
    svc.spec.group, svc.spec.version = "metrics.k8s.io", "v1beta1"
    svc.spec.service.namespace, svc.spec.service.name = "kube-system", "metrics-server"
    svc.spec.service.port = 443
    svc.spec.insecureSkipTLSVerify = True
    svc.spec.groupPriorityMinimum = 100
    svc.status.SetInParent()
    obj = protobuf.decode_object(_envelope("APIService", svc))
    assert obj["spec"] == {
        "service": {"namespace": "kube-system", "name": "metrics-server", "port": 443},
        "group": "metrics.k8s.io",
        "version": "v1beta1",
        "insecureSkipTLSVerify": True,
        # No omitempty on either priority: a zero is written.
        "groupPriorityMinimum": 100,
        "versionPriority": 0,
    }
