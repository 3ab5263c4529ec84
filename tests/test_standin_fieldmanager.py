"""Unit tests of the stand-in's field ownership (managedFields, server-side apply).

The expectations are upstream's: the FieldsV1 shapes kube-apiserver writes, the
conflict Status of k8s.io/apimachinery's managedfields, SMD's pruning rules.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from k8s_standin import fieldmanager, fieldpaths, ipam
from k8s_standin.errors import ApiError
from k8s_standin.fieldmanager import Writer
from k8s_standin.registry import Registry
from k8s_standin.resources import get
from k8s_standin.store import Store

DEPLOYMENTS = get("apps", "v1", "deployments")
CONFIGMAPS = get("", "v1", "configmaps")
NAMESPACES = get("", "v1", "namespaces")
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"

Obj = dict[str, Any]


@pytest.fixture
def registry() -> Registry:
    reg = Registry(Store(None), ipam.ServiceIPs(["10.43.0.0/16"]))
    reg.create(NAMESPACES, "", {"metadata": {"name": "default"}})
    return reg


def deployment(replicas: int | None = 1, image: str = "busybox", **extra: Any) -> Obj:
    spec: Obj = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": image, **extra}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": spec,
    }


def entries(obj: Obj) -> dict[str, Obj]:
    return {
        f"{e['manager']}/{e['operation']}{'/' + e['subresource'] if 'subresource' in e else ''}": e
        for e in obj["metadata"].get("managedFields") or []
    }


def apply(registry: Registry, body: Obj, manager: str = "kubectl", force: bool = False) -> Obj:
    return registry.patch(
        DEPLOYMENTS,
        "default",
        "web",
        APPLY,
        copy.deepcopy(body),
        writer=Writer(manager),
        force=force,
    )


# -- FieldsV1 -------------------------------------------------------------------------


def test_fields_v1_encoding_as_the_apiserver_writes_it() -> None:
    paths = fieldpaths.to_set(
        {
            "metadata": {"labels": {"app": "web"}, "finalizers": ["a/b"]},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "ports": [{"port": 80}],
                "template": {"spec": {"containers": [{"name": "web", "image": "x"}]}},
            },
        }
    )
    assert fieldpaths.encode(paths) == {
        "f:metadata": {"f:finalizers": {'v:"a/b"': {}}, "f:labels": {"f:app": {}}},
        "f:spec": {
            "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}}},
            "f:replicas": {},
            "f:selector": {},  # LabelSelector is structType=atomic
            "f:template": {
                "f:spec": {
                    "f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}}}
                }
            },
        },
    }
    assert fieldpaths.decode(fieldpaths.encode(paths)) == paths


def test_container_ports_key_on_port_and_protocol() -> None:
    paths = fieldpaths.to_set({"ports": [{"containerPort": 8080, "protocol": "UDP"}]})
    assert ("f:ports", 'k:{"containerPort":8080,"protocol":"UDP"}') in paths


def test_path_strings_name_keys_and_values() -> None:
    path = ("f:spec", "f:containers", 'k:{"name":"web"}', "f:image")
    assert fieldpaths.path_string(path) == '.spec.containers[name="web"].image'
    ports = ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}')
    assert fieldpaths.path_string(ports) == '.spec.ports[port=80,protocol="TCP"]'
    assert fieldpaths.path_string(("f:metadata", "f:finalizers", 'v:"x"')) == (
        '.metadata.finalizers[="x"]'
    )


@pytest.mark.parametrize(
    ("user_agent", "manager"),
    [
        ("kubectl/v1.36.0 (linux/amd64) kubernetes/abcdef", "kubectl"),
        ("Go-http-client/1.1", "Go-http-client"),
        ("OpenAPI-Generator/33.1.0/python", "OpenAPI-Generator"),
        ("", ""),
        ("a\tb/1", "ab"),
        ("x" * 200, "x" * 128),
    ],
)
def test_manager_from_the_user_agent(user_agent: str, manager: str) -> None:
    assert fieldmanager.manager_from_user_agent(user_agent) == manager


# -- updates --------------------------------------------------------------------------


def test_create_records_an_update_entry_with_the_defaulted_fields(registry: Registry) -> None:
    created = registry.create(DEPLOYMENTS, "default", deployment(), writer=Writer("kubectl-create"))
    (entry,) = created["metadata"]["managedFields"]
    assert {k: v for k, v in entry.items() if k not in ("time", "fieldsV1")} == {
        "manager": "kubectl-create",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "fieldsType": "FieldsV1",
    }
    fields = entry["fieldsV1"]
    assert "f:status" not in fields  # status is reset for the main resource
    assert "f:name" not in fields["f:metadata"] if "f:metadata" in fields else True
    spec = fields["f:spec"]
    container = spec["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert "f:imagePullPolicy" in container  # defaulted at decoding, so the writer's
    # "." only where the empty Go object has nothing: not on struct fields, nor on
    # containers (a null slice there), but on a pointer (rollingUpdate) and a map.
    assert "." not in spec["f:strategy"] and "." in spec["f:strategy"]["f:rollingUpdate"]
    assert "." not in spec["f:template"] and "." not in spec["f:template"]["f:spec"]
    assert "." not in spec["f:template"]["f:spec"]["f:containers"] and "." in container
    assert "." in spec["f:template"]["f:metadata"]["f:labels"]


def test_updates_take_fields_from_other_managers(registry: Registry) -> None:
    registry.create(DEPLOYMENTS, "default", deployment(), writer=Writer("creator"))
    out = registry.patch(
        DEPLOYMENTS,
        "default",
        "web",
        MERGE,
        {"spec": {"replicas": 3}},
        writer=Writer("kubectl", "scale"),
    )
    by = entries(out)
    assert by["kubectl/Update/scale"]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in by["creator/Update"]["fieldsV1"]["f:spec"]
    # The same manager and version again: one entry, its sets merged.
    again = registry.patch(
        DEPLOYMENTS,
        "default",
        "web",
        MERGE,
        {"metadata": {"labels": {"x": "1"}}},
        writer=Writer("kubectl", "scale"),
    )
    assert entries(again)["kubectl/Update/scale"]["fieldsV1"] == {
        "f:metadata": {"f:labels": {".": {}, "f:x": {}}},
        "f:spec": {"f:replicas": {}},
    }


def test_a_no_op_write_keeps_the_entries_and_the_resource_version(registry: Registry) -> None:
    created = registry.create(DEPLOYMENTS, "default", deployment(), writer=Writer("a"))
    out = registry.patch(DEPLOYMENTS, "default", "web", MERGE, {"spec": {"replicas": 1}})
    assert out["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert out["metadata"]["managedFields"] == created["metadata"]["managedFields"]


def test_a_manager_left_with_nothing_is_dropped(registry: Registry) -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    registry.patch(
        CONFIGMAPS, "default", "c", APPLY, dict(config, data={"a": "1"}), writer=Writer("a")
    )
    cm = registry.patch(
        CONFIGMAPS,
        "default",
        "c",
        APPLY,
        dict(config, data={"a": "2"}),
        writer=Writer("b"),
        force=True,
    )
    assert [e["manager"] for e in cm["metadata"]["managedFields"]] == ["b"]


def test_sent_managed_fields_replace_or_reset_them(registry: Registry) -> None:
    cm = registry.create(CONFIGMAPS, "default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    entry = dict(cm["metadata"]["managedFields"][0], manager="renamed")
    body = dict(cm, metadata=dict(cm["metadata"], managedFields=[entry]))
    renamed = registry.update(CONFIGMAPS, "default", "c", body)
    assert [e["manager"] for e in renamed["metadata"]["managedFields"]] == ["renamed"]
    # Leaving them out keeps the stored ones.
    body = dict(
        renamed, metadata={k: v for k, v in renamed["metadata"].items() if k != "managedFields"}
    )
    kept = registry.update(CONFIGMAPS, "default", "c", body)
    assert kept["metadata"]["managedFields"] == renamed["metadata"]["managedFields"]
    # [{}] (or []) clears them, and an object nobody manages is not tracked after.
    cleared = registry.patch(
        CONFIGMAPS, "default", "c", MERGE, {"metadata": {"managedFields": [{}]}}
    )
    assert "managedFields" not in cleared["metadata"]
    later = registry.patch(CONFIGMAPS, "default", "c", MERGE, {"data": {"b": "2"}})
    assert "managedFields" not in later["metadata"]


def test_update_managers_are_capped_at_ten(registry: Registry) -> None:
    cm = {"metadata": {"name": "c"}, "data": {"k0": "v"}}
    registry.create(CONFIGMAPS, "default", cm, writer=Writer("m0"))
    for i in range(1, 12):
        cm = registry.patch(
            CONFIGMAPS, "default", "c", MERGE, {"data": {f"k{i}": "v"}}, writer=Writer(f"m{i}")
        )
    managers = [e["manager"] for e in cm["metadata"]["managedFields"]]
    assert len(managers) == 10 and "ancient-changes" in managers


# -- apply ----------------------------------------------------------------------------


def test_apply_owns_exactly_its_configuration(registry: Registry) -> None:
    out = apply(registry, deployment())
    (entry,) = out["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl" and entry["operation"] == "Apply"
    spec = entry["fieldsV1"]["f:spec"]
    assert set(spec) == {"f:replicas", "f:selector", "f:template"}
    container = spec["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert container == {".": {}, "f:image": {}, "f:name": {}}  # not the defaults
    assert out["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_a_field_no_longer_applied_is_removed(registry: Registry) -> None:
    apply(registry, deployment(args=["a"]))
    out = apply(registry, deployment())
    assert "args" not in out["spec"]["template"]["spec"]["containers"][0]
    # Defaulted fields nobody owns stay.
    assert out["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_a_field_another_manager_owns_is_kept_when_dropped(registry: Registry) -> None:
    apply(registry, deployment(args=["a"]))
    apply(registry, deployment(args=["a"]), manager="other")
    out = apply(registry, deployment())
    assert out["spec"]["template"]["spec"]["containers"][0]["args"] == ["a"]
    by = entries(out)
    assert "f:args" in json.dumps(by["other/Apply"]["fieldsV1"])
    assert "f:args" not in json.dumps(by["kubectl/Apply"]["fieldsV1"])


def test_a_list_item_no_longer_applied_is_removed(registry: Registry) -> None:
    body = deployment()
    body["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "x"})
    apply(registry, body)
    out = apply(registry, deployment())
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["web"]


def test_conflict_with_an_update_manager(registry: Registry) -> None:
    apply(registry, deployment(replicas=1))
    registry.patch(
        DEPLOYMENTS,
        "default",
        "web",
        MERGE,
        {"spec": {"replicas": 5}},
        writer=Writer("kubectl", "scale"),
    )
    with pytest.raises(ApiError) as err:
        apply(registry, deployment(replicas=2))
    status = err.value.status()
    assert status["code"] == 409 and status["reason"] == "Conflict"
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" '
        "using apps/v1: .spec.replicas"
    )
    assert status["details"] == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl" with subresource "scale" using apps/v1',
                "field": ".spec.replicas",
            }
        ]
    }


def test_the_same_value_is_shared_without_conflict(registry: Registry) -> None:
    apply(registry, deployment(replicas=1), manager="a")
    out = apply(registry, deployment(replicas=1), manager="b")
    by = entries(out)
    assert "f:replicas" in by["a/Apply"]["fieldsV1"]["f:spec"]
    assert "f:replicas" in by["b/Apply"]["fieldsV1"]["f:spec"]


def test_force_takes_ownership(registry: Registry) -> None:
    apply(registry, deployment(replicas=1), manager="a")
    with pytest.raises(ApiError) as err:
        apply(registry, deployment(replicas=4), manager="b")
    assert err.value.message == ('Apply failed with 1 conflict: conflict with "a": .spec.replicas')
    out = apply(registry, deployment(replicas=4), manager="b", force=True)
    assert out["spec"]["replicas"] == 4
    by = entries(out)
    assert "f:replicas" not in by["a/Apply"]["fieldsV1"]["f:spec"]
    assert "f:replicas" in by["b/Apply"]["fieldsV1"]["f:spec"]


def test_several_conflicts_are_listed_by_manager(registry: Registry) -> None:
    apply(registry, deployment(replicas=1, image="one"), manager="a")
    with pytest.raises(ApiError) as err:
        apply(registry, deployment(replicas=2, image="two"), manager="b")
    assert err.value.message == (
        'Apply failed with 2 conflicts: conflicts with "a":\n'
        '- .spec.replicas\n- .spec.template.spec.containers[name="web"].image'
    )


def test_client_side_apply_fields_move_to_kubectl_without_conflict(registry: Registry) -> None:
    """kubectl apply --server-side after kubectl apply: the fields still holding the
    last-applied values are taken over, and the annotation follows the new apply."""
    last = json.dumps(deployment(replicas=1))
    first = deployment(replicas=1)
    first["metadata"]["annotations"] = {fieldmanager.LAST_APPLIED: last}
    registry.create(DEPLOYMENTS, "default", first, writer=Writer("kubectl-client-side-apply"))
    out = apply(registry, deployment(replicas=3))
    assert out["spec"]["replicas"] == 3
    annotation = json.loads(out["metadata"]["annotations"][fieldmanager.LAST_APPLIED])
    assert annotation["spec"]["replicas"] == 3
    # Another manager than "kubectl" gets the conflict.
    with pytest.raises(ApiError):
        apply(registry, deployment(replicas=4), manager="other")


def test_apply_to_an_object_nobody_manages(registry: Registry) -> None:
    registry.create(
        CONFIGMAPS, "default", {"metadata": {"name": "c"}, "data": {"a": "1"}}, writer=None
    )
    with pytest.raises(ApiError) as err:
        registry.patch(
            CONFIGMAPS,
            "default",
            "c",
            APPLY,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c"},
                "data": {"a": "2"},
            },
            writer=Writer("x"),
        )
    assert 'conflict with "before-first-apply" using v1: .data.a' in err.value.message


def test_apply_refuses_what_upstream_refuses(registry: Registry) -> None:
    body = deployment()
    body["metadata"]["managedFields"] = []
    with pytest.raises(ApiError, match=r"metadata\.managedFields must be nil"):
        apply(registry, body)
    with pytest.raises(ApiError, match="Incorrect version specified in apply patch"):
        apply(registry, dict(deployment(), apiVersion="apps/v1beta1"))
    missing_key = deployment()
    missing_key["spec"]["template"]["spec"]["containers"] = [{"image": "x"}]
    with pytest.raises(ApiError, match='omits key field "name"') as err:
        apply(registry, missing_key)
    assert err.value.code == 500
    assert err.value.message.startswith(
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
        ".spec.template.spec.containers: element 0:"
    )
    twice = deployment()
    twice["spec"]["template"]["spec"]["containers"] *= 2
    with pytest.raises(ApiError, match=r'duplicate entries for key \[name="web"\]'):
        apply(registry, twice)


def test_a_list_repeating_a_key_is_owned_as_one_value() -> None:
    """A dual-stack node has two addresses of type InternalIP."""
    addresses = [{"type": "InternalIP", "address": "10.0.0.1"}]
    dual = [*addresses, {"type": "InternalIP", "address": "fd00::1"}]
    assert fieldpaths.to_set({"status": {"addresses": dual}}) == {("f:status", "f:addresses")}
    changed = fieldpaths.compare(
        {"status": {"addresses": addresses}}, {"status": {"addresses": dual}}
    )
    assert changed.removed and changed.added


def test_apply_to_status_gets_its_own_entry(registry: Registry) -> None:
    apply(registry, deployment())
    out = registry.patch(
        DEPLOYMENTS,
        "default",
        "web",
        APPLY,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "status": {"replicas": 1},
            "spec": {"replicas": 9},
        },
        subresource="status",
        writer=Writer("ctl", "status"),
    )
    entry = entries(out)["ctl/Apply/status"]
    assert entry["fieldsV1"] == {"f:status": {"f:replicas": {}}}
    assert out["spec"]["replicas"] == 1


def test_pruned_defaults_come_back_without_a_new_generation(registry: Registry) -> None:
    """After kubectl moves client-side apply's fields to its Apply entry, that entry owns
    defaulted fields its configuration leaves out: the next apply prunes them, and
    defaulting gives them back, so the spec (and the generation) stay."""
    created = registry.create(DEPLOYMENTS, "default", deployment(), writer=Writer("csa"))
    (entry,) = created["metadata"]["managedFields"]
    moved = [dict(entry, manager="kubectl", operation="Apply")]
    registry.patch(
        DEPLOYMENTS,
        "default",
        "web",
        "application/json-patch+json",
        [{"op": "replace", "path": "/metadata/managedFields", "value": moved}],
    )
    out = apply(registry, deployment())
    assert out["metadata"]["generation"] == created["metadata"]["generation"]
    assert out["spec"]["progressDeadlineSeconds"] == 600
    (entry,) = out["metadata"]["managedFields"]
    assert "f:progressDeadlineSeconds" not in entry["fieldsV1"]["f:spec"]


def test_finalizers_are_a_set_each_applier_owns_its_own(registry: Registry) -> None:
    def config(*finalizers: str) -> Obj:
        meta: Obj = {"name": "c", "finalizers": list(finalizers)}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}

    def apply_cm(body: Obj, manager: str) -> Obj:
        return registry.patch(CONFIGMAPS, "default", "c", APPLY, body, writer=Writer(manager))

    apply_cm(config("a.io/one"), "a")
    both = apply_cm(config("b.io/two"), "b")
    assert both["metadata"]["finalizers"] == ["a.io/one", "b.io/two"]
    assert entries(both)["b/Apply"]["fieldsV1"] == {
        "f:metadata": {"f:finalizers": {'v:"b.io/two"': {}}}
    }
    left = apply_cm(config(), "a")
    assert left["metadata"]["finalizers"] == ["b.io/two"]
