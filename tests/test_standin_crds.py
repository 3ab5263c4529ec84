"""CustomResourceDefinitions in the stand-in's API, against the official Python client.

The stand-in runs as a subprocess on loopback, API only (STANDIN_NO_NODE=1), as in
tests/test_standin_api.py. The pruning and validation rules are unit-tested directly.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from k8s_standin import pbclasses, protobuf, schema, testing
from k8s_standin.tables import jsonpath, printer_columns
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from polling import eventually

GROUP = "stable.example.com"
SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["image"],
            "properties": {
                "image": {"type": "string"},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
                "mode": {"type": "string", "enum": ["fast", "slow"]},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
        "status": {
            "type": "object",
            "properties": {"phase": {"type": "string"}},
        },
    },
}


def crd(
    plural: str = "crontabs",
    kind: str = "CronTab",
    scope: str = "Namespaced",
    versions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {
                "plural": plural,
                "kind": kind,
                "shortNames": [plural[:2] + "x"],
                "categories": ["all"],
            },
            "versions": versions
            or [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": SPEC_SCHEMA},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Image", "type": "string", "jsonPath": ".spec.image"}
                    ],
                }
            ],
        },
    }


# -- schema rules, without a server ------------------------------------------------------


def test_pruning_keeps_only_specified_fields_and_preserved_subtrees() -> None:
    obj = {
        "apiVersion": "x/v1",
        "kind": "K",
        "metadata": {"name": "a", "whatever": 1},
        "spec": {"image": "i", "unknown": 1, "free": {"any": {"thing": True}}},
        "extra": "gone",
    }
    pruned = schema.prune(obj, SPEC_SCHEMA)
    assert pruned == {
        "apiVersion": "x/v1",
        "kind": "K",
        "metadata": {"name": "a", "whatever": 1},
        "spec": {"image": "i", "free": {"any": {"thing": True}}},
    }


def test_validation_messages_have_kube_openapis_wording() -> None:
    obj = {"spec": {"replicas": "three", "mode": "medium"}}
    causes = schema.validate(obj, SPEC_SCHEMA)
    assert {c["field"]: c["message"] for c in causes} == {
        "spec.image": "Required value",
        "spec.replicas": 'Invalid value: "string": spec.replicas in body must be of type '
        'integer: "string"',
        "spec.mode": 'Unsupported value: "medium": supported values: "fast", "slow"',
    }
    low = schema.validate({"spec": {"image": "i", "replicas": 0}}, SPEC_SCHEMA)
    assert low[0]["message"] == (
        "Invalid value: 0: spec.replicas in body should be greater than or equal to 1"
    )
    high = schema.validate({"spec": {"image": "i", "replicas": 11}}, SPEC_SCHEMA)
    assert high[0]["message"] == (
        "Invalid value: 11: spec.replicas in body should be less than or equal to 10"
    )


DEFAULTED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "default": {},
            "properties": {
                "replicas": {"type": "integer", "default": 1},
                "mode": {"type": "string", "default": "fast"},
                "note": {"type": "string", "nullable": True, "default": "n"},
                "plain": {"type": "string"},
                "ports": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "default": {"port": 80},
                        "properties": {
                            "port": {"type": "integer"},
                            "protocol": {"type": "string", "default": "TCP"},
                        },
                    },
                },
                "limits": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "default": "1"},
                },
            },
        },
    },
}


def _defaulted(obj: dict[str, Any]) -> dict[str, Any]:
    schema.drop_nulls(obj, DEFAULTED_SCHEMA)
    schema.default(obj, DEFAULTED_SCHEMA)
    return obj


def test_defaults_fill_missing_fields_and_non_nullable_nulls() -> None:
    # A missing object with a default of {} is created, then defaulted itself.
    assert _defaulted({}) == {"spec": {"replicas": 1, "mode": "fast", "note": "n"}}
    got = _defaulted(
        {
            "spec": {
                "replicas": 3,
                "mode": None,  # not nullable, defaulted: the default
                "note": None,  # nullable: null stays
                "plain": None,  # not nullable, no default: dropped
                "ports": [{"port": 8080}, None],  # an item: its own default, then its fields'
                "limits": {"cpu": None, "memory": "2"},
            }
        }
    )
    assert got == {
        "spec": {
            "replicas": 3,
            "mode": "fast",
            "note": None,
            "ports": [{"port": 8080, "protocol": "TCP"}, {"port": 80, "protocol": "TCP"}],
            "limits": {"cpu": "1", "memory": "2"},
        }
    }


def test_a_null_default_is_no_default() -> None:
    """`default: null` is no default upstream (Default.Object is nil): a non-nullable
    null under it is dropped, not kept for defaulting."""
    shape = {"type": "object", "properties": {"x": {"type": "string", "default": None}}}
    obj: dict[str, Any] = {"x": None}
    schema.drop_nulls(obj, shape)
    schema.default(obj, shape)
    assert obj == {}


def test_defaults_are_copies() -> None:
    one, two = _defaulted({}), _defaulted({})
    one["spec"]["replicas"] = 9
    assert two["spec"]["replicas"] == 1
    assert DEFAULTED_SCHEMA["properties"]["spec"]["default"] == {}


def test_printer_column_cells_by_type() -> None:
    columns = printer_columns(
        (
            {"name": "N", "type": "integer", "jsonPath": ".spec.n"},
            {"name": "S", "type": "string", "jsonPath": ".spec.n"},
            {"name": "B", "type": "boolean", "jsonPath": ".spec.n"},
            {"name": "D", "type": "date", "jsonPath": ".spec.when"},
        )
    )
    obj = {"metadata": {"name": "x"}, "spec": {"n": 3.0, "when": "yesterday"}}
    assert [c[0] for c in columns] == ["Name", "N", "S", "B", "D"]
    # A value of another type than the column's is no cell; string columns print any.
    assert [cell(obj) for *_, cell in columns] == ["x", 3, "3", None, "<invalid>"]
    assert [c[0] for c in printer_columns(())] == ["Name", "Age"]


def test_printer_column_jsonpath() -> None:
    obj = {"status": {"conditions": [{"type": "A", "status": "x"}, {"type": "B", "status": "y"}]}}
    assert jsonpath(obj, '.status.conditions[?(@.type=="B")].status') == "y"
    assert jsonpath(obj, ".status.conditions[0].type") == "A"
    assert jsonpath(obj, ".spec.missing") is None


# -- against a running stand-in -----------------------------------------------------------


@pytest.fixture(scope="module", params=["k3s", "k0s"])
def standin(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[testing.StandIn]:
    """A k3s stand-in, then a k0s one: the API is the same code under either."""
    make = testing.k3s if request.param == "k3s" else testing.k0s
    with testing.running(make(tmp_path_factory.mktemp(request.param))) as started:
        yield started


@pytest.fixture(scope="module")
def api(standin: testing.StandIn) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(standin.kubeconfig))


@pytest.fixture(scope="module")
def ext(api: client.ApiClient) -> client.ApiextensionsV1Api:
    return client.ApiextensionsV1Api(api)


@pytest.fixture(scope="module")
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def _request(
    standin: testing.StandIn,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    conn = http.client.HTTPSConnection(
        "127.0.0.1", standin.port, timeout=10, context=standin.admin_context()
    )
    try:
        # Bytes go as they are (a protobuf body); anything else as JSON.
        data = body if isinstance(body, bytes) or body is None else json.dumps(body)
        conn.request(method, path, body=data, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def _raw(standin: testing.StandIn, path: str, accept: str = "application/json") -> Any:
    code, doc = _request(standin, "GET", path, headers={"Accept": accept})
    assert code == 200, doc
    return doc


def _status(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


def _established(ext: client.ApiextensionsV1Api, name: str) -> bool:
    got = ext.read_custom_resource_definition(name)
    return any(c.type == "Established" and c.status == "True" for c in got.status.conditions or [])


@pytest.fixture(scope="module")
def crontabs(ext: client.ApiextensionsV1Api) -> str:
    created = ext.create_custom_resource_definition(crd())
    assert created.spec.names.singular == "crontab"
    assert created.spec.names.list_kind == "CronTabList"
    assert created.spec.conversion.strategy == "None"
    conditions = {c.type: (c.status, c.reason, c.message) for c in created.status.conditions}
    assert conditions["NamesAccepted"] == ("True", "NoConflicts", "no conflicts found")
    assert conditions["Established"] == (
        "True",
        "InitialNamesAccepted",
        "the initial names have been accepted",
    )
    assert created.status.accepted_names.plural == "crontabs"
    assert created.status.stored_versions == ["v1"]
    return "crontabs"


def test_discovery_lists_the_new_resource(standin: testing.StandIn, crontabs: str) -> None:
    groups = _raw(standin, "/apis")["groups"]
    assert any(g["name"] == GROUP for g in groups)
    group = _raw(standin, f"/apis/{GROUP}")
    assert group["preferredVersion"]["version"] == "v1"
    listed = {r["name"]: r for r in _raw(standin, f"/apis/{GROUP}/v1")["resources"]}
    assert listed["crontabs"]["kind"] == "CronTab"
    assert listed["crontabs"]["shortNames"] == ["crx"]
    assert listed["crontabs"]["categories"] == ["all"]
    assert listed["crontabs/status"]["verbs"] == ["get", "patch", "update"]
    aggregated = _raw(
        standin,
        "/apis",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
    )
    mine = next(i for i in aggregated["items"] if i["metadata"].get("name") == GROUP)
    entry = mine["versions"][0]["resources"][0]
    assert (entry["resource"], entry["scope"]) == ("crontabs", "Namespaced")
    assert entry["subresources"][0]["subresource"] == "status"


def test_custom_objects_crud_prune_and_status(
    custom: client.CustomObjectsApi, crontabs: str
) -> None:
    body = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "CronTab",
        "metadata": {"name": "one"},
        "spec": {"image": "busybox", "replicas": 2, "junk": True},
        "status": {"phase": "ignored on create"},
    }
    made = custom.create_namespaced_custom_object(GROUP, "v1", "default", crontabs, body)
    assert made["spec"] == {"image": "busybox", "replicas": 2}
    assert "status" not in made
    assert made["metadata"]["generation"] == 1
    # Main-resource writes ignore status; /status writes ignore everything else.
    patched = custom.patch_namespaced_custom_object(
        GROUP, "v1", "default", crontabs, "one", {"spec": {"replicas": 3}, "status": {"phase": "x"}}
    )
    assert patched["spec"]["replicas"] == 3 and "status" not in patched
    assert patched["metadata"]["generation"] == 2
    status = custom.patch_namespaced_custom_object_status(
        GROUP,
        "v1",
        "default",
        crontabs,
        "one",
        {"spec": {"replicas": 9}, "status": {"phase": "Up"}},
    )
    assert status["status"] == {"phase": "Up"} and status["spec"]["replicas"] == 3
    assert status["metadata"]["generation"] == 2
    listed = custom.list_namespaced_custom_object(GROUP, "v1", "default", crontabs)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["one"]
    assert listed["kind"] == "CronTabList"
    custom.delete_namespaced_custom_object(GROUP, "v1", "default", crontabs, "one")
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(GROUP, "v1", "default", crontabs, "one")
    assert _status(err.value)["message"] == f'crontabs.{GROUP} "one" not found'


def test_invalid_custom_object_is_422(custom: client.CustomObjectsApi, crontabs: str) -> None:
    body = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "CronTab",
        "metadata": {"name": "bad"},
        "spec": {"image": "busybox", "replicas": "three"},
    }
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(GROUP, "v1", "default", crontabs, body)
    status = _status(err.value)
    assert (err.value.status, status["reason"]) == (422, "Invalid")
    assert status["message"] == (
        f'CronTab.{GROUP} "bad" is invalid: spec.replicas: Invalid value: "string": '
        'spec.replicas in body must be of type integer: "string"'
    )
    assert status["details"]["kind"] == "CronTab"


def test_strategic_merge_patch_is_refused(
    standin: testing.StandIn, custom: client.CustomObjectsApi, crontabs: str
) -> None:
    body = {"apiVersion": f"{GROUP}/v1", "kind": "CronTab", "metadata": {"name": "smp"}}
    body["spec"] = {"image": "a"}
    custom.create_namespaced_custom_object(GROUP, "v1", "default", crontabs, body)
    path = f"/apis/{GROUP}/v1/namespaces/default/crontabs/smp"
    smp = {"Content-Type": "application/strategic-merge-patch+json"}
    code, status = _request(standin, "PATCH", path, {"spec": {"image": "b"}}, smp)
    assert (code, status["reason"]) == (415, "UnsupportedMediaType")
    ops = [{"op": "replace", "path": "/spec/image", "value": "c"}]
    code, done = _request(
        standin, "PATCH", path, ops, {"Content-Type": "application/json-patch+json"}
    )
    assert (code, done["spec"]["image"]) == (200, "c")
    apply = {"apiVersion": f"{GROUP}/v1", "kind": "CronTab", "metadata": {"name": "smp"}}
    apply["spec"] = {"image": "d", "mode": "fast"}
    code, done = _request(
        standin,
        "PATCH",
        path + "?fieldManager=t",
        apply,
        {"Content-Type": "application/apply-patch+yaml"},
    )
    # The JSON patch's writer owns spec.image now: changing it is a conflict ...
    assert (code, done["reason"]) == (409, "Conflict"), done
    assert done["message"].endswith(f" using {GROUP}/v1: .spec.image"), done
    # ... which force takes over.
    code, done = _request(
        standin,
        "PATCH",
        path + "?fieldManager=t&force=true",
        apply,
        {"Content-Type": "application/apply-patch+yaml"},
    )
    assert (code, done["spec"]) == (200, {"image": "d", "mode": "fast"})


def test_watch_sees_custom_objects(custom: client.CustomObjectsApi, crontabs: str) -> None:
    seen: list[tuple[str, str]] = []
    w = watch.Watch()

    def follow() -> None:
        for event in w.stream(
            custom.list_namespaced_custom_object,
            GROUP,
            "v1",
            "default",
            crontabs,
            timeout_seconds=5,
        ):
            seen.append((event["type"], event["object"]["metadata"]["name"]))
            if event["type"] == "DELETED":
                w.stop()

    thread = threading.Thread(target=follow)
    thread.start()
    time.sleep(0.5)
    body = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "CronTab",
        "metadata": {"name": "w"},
        "spec": {"image": "a"},
    }
    custom.create_namespaced_custom_object(GROUP, "v1", "default", crontabs, body)
    custom.delete_namespaced_custom_object(GROUP, "v1", "default", crontabs, "w")
    thread.join(10)
    assert ("ADDED", "w") in seen and ("DELETED", "w") in seen


def test_cluster_scope_and_versions_share_storage(
    ext: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    loose = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    versions = [
        {"name": "v1beta1", "served": True, "storage": False, "schema": loose},
        {"name": "v1", "served": True, "storage": True, "schema": loose},
        {"name": "v1alpha1", "served": False, "storage": False, "schema": loose},
    ]
    ext.create_custom_resource_definition(crd("widgets", "Widget", "Cluster", versions))
    body = {"apiVersion": f"{GROUP}/v1beta1", "kind": "Widget", "metadata": {"name": "w1"}, "x": 1}
    custom.create_cluster_custom_object(GROUP, "v1beta1", "widgets", body)
    as_v1 = custom.get_cluster_custom_object(GROUP, "v1", "widgets", "w1")
    assert (as_v1["apiVersion"], as_v1["x"]) == (f"{GROUP}/v1", 1)
    with pytest.raises(ApiException) as err:
        custom.get_cluster_custom_object(GROUP, "v1alpha1", "widgets", "w1")
    assert err.value.status == 404
    # Deleting the CRD deletes its objects, then the CRD itself.
    ext.delete_custom_resource_definition(f"widgets.{GROUP}")

    def gone() -> bool:
        try:
            ext.read_custom_resource_definition(f"widgets.{GROUP}")
        except ApiException as exc:
            return exc.status == 404
        return False

    eventually(gone)
    with pytest.raises(ApiException) as err:
        custom.get_cluster_custom_object(GROUP, "v1", "widgets", "w1")
    assert err.value.status == 404


def test_crd_name_must_match_its_names(ext: client.ApiextensionsV1Api) -> None:
    bad = crd("gadgets", "Gadget")
    bad["metadata"]["name"] = "wrong.example.com"
    with pytest.raises(ApiException) as err:
        ext.create_custom_resource_definition(bad)
    assert err.value.status == 422
    assert 'metadata.name: Invalid value: "wrong.example.com"' in _status(err.value)["message"]


def test_crds_survive_a_restart(standin: testing.StandIn, crontabs: str) -> None:
    standin.restart()
    standin.wait_for()
    listed = {r["name"] for r in _raw(standin, f"/apis/{GROUP}/v1")["resources"]}
    assert "crontabs" in listed


def test_field_validation_directives(standin: testing.StandIn, crontabs: str) -> None:
    path = f"/apis/{GROUP}/v1/namespaces/default/crontabs"
    body = {"apiVersion": f"{GROUP}/v1", "kind": "CronTab", "metadata": {"name": "fv"}}
    body["spec"] = {"image": "a", "extra": 1, "free": {"kept": True}}
    json_type = {"Content-Type": "application/json"}

    def post(directive: str) -> tuple[int, Any, list[str]]:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", standin.port, timeout=10, context=standin.admin_context()
        )
        try:
            conn.request("POST", f"{path}?fieldValidation={directive}", json.dumps(body), json_type)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read()), resp.headers.get_all("Warning") or []
        finally:
            conn.close()

    code, status, _ = post("Strict")
    assert (code, status["reason"]) == (400, "BadRequest")
    assert status["message"] == (
        'CronTab in version "v1" cannot be handled as a CronTab: strict decoding error: '
        'unknown field "spec.extra"'
    )
    code, status, _ = post("Sloppy")
    assert code == 400 and "fieldValidation must be one of" in status["message"]
    code, made, warnings = post("Warn")
    assert code == 201 and warnings == ['299 - "unknown field \\"spec.extra\\""']
    assert made["spec"] == {"image": "a", "free": {"kept": True}}
    patch_path = f"{path}/fv?fieldValidation=Strict"
    merge = {"Content-Type": "application/merge-patch+json"}
    code, status = _request(standin, "PATCH", patch_path, {"spec": {"other": 2}}, merge)
    assert (code, status["message"]) == (400, 'strict decoding error: unknown field "spec.other"')
    body["metadata"] = {"name": "fv2"}
    code, made, warnings = post("Ignore")
    assert code == 201 and warnings == [] and "extra" not in made["spec"]


def _post_protobuf(
    standin: testing.StandIn, path: str, api_version: str, kind: str, msg: Any
) -> Any:
    """POST one object as kubectl's typed clients send it: `k8s\\0` and a runtime.Unknown."""
    envelope = pbclasses.new("Unknown")
    envelope.typeMeta.apiVersion, envelope.typeMeta.kind = api_version, kind
    envelope.raw = msg.SerializeToString()
    headers = {"Content-Type": "application/vnd.kubernetes.protobuf", "Accept": "application/json"}
    return _request(standin, "POST", path, protobuf.MAGIC + envelope.SerializeToString(), headers)


def test_a_protobuf_crd_is_established_and_its_schema_validates(
    standin: testing.StandIn, custom: client.CustomObjectsApi
) -> None:
    """A CRD sent as protobuf is the CRD its JSON would be: named, established, and its
    decoded schema (a double maximum, an enum of JSON values) holds its objects."""
    msg = pbclasses.new("CustomResourceDefinition")
    msg.metadata.name = f"widgets.{GROUP}"
    msg.spec.group, msg.spec.scope = GROUP, "Namespaced"
    msg.spec.names.plural, msg.spec.names.kind = "widgets", "Widget"
    version = msg.spec.versions.add(name="v1", served=True, storage=True)
    root = version.schema.openAPIV3Schema
    root.type = "object"
    spec = root.properties["spec"]
    spec.type = "object"
    spec.properties["size"].type = "integer"
    spec.properties["size"].maximum = 10.0
    spec.properties["mode"].type = "string"
    spec.properties["mode"].enum.add(raw=b'"fast"')
    code, made = _post_protobuf(
        standin,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        msg,
    )
    assert code == 201, made
    assert made["spec"]["names"]["listKind"] == "WidgetList"  # defaulted as for JSON
    assert made["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] == {
        "type": "object",
        "properties": {
            "mode": {"type": "string", "enum": ["fast"]},
            "size": {"type": "integer", "maximum": 10},
        },
    }
    eventually(lambda: "widgets" in _plurals(standin), timeout=10)
    body = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w"}}
    body["spec"] = {"size": 11, "mode": "slow"}
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", body)
    assert err.value.status == 422
    message = _status(err.value)["message"]
    assert (
        "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10"
        in message
    )
    assert 'spec.mode: Unsupported value: "slow": supported values: "fast"' in message
    # Its objects are JSON only: a protobuf body for a custom kind is refused.
    code, refused = _post_protobuf(
        standin,
        f"/apis/{GROUP}/v1/namespaces/default/widgets",
        f"{GROUP}/v1",
        "Widget",
        pbclasses.new("ConfigMap"),
    )
    assert (code, refused["reason"]) == (415, "UnsupportedMediaType")


def _plurals(standin: testing.StandIn) -> set[str]:
    code, doc = _request(standin, "GET", f"/apis/{GROUP}/v1")
    return {r["name"] for r in doc["resources"]} if code == 200 else set()


def test_a_protobuf_apiservice_is_stored_as_its_json(standin: testing.StandIn) -> None:
    msg = pbclasses.new("APIService")
    msg.metadata.name = "v1alpha1.widgets.example.com"
    msg.spec.group, msg.spec.version = "widgets.example.com", "v1alpha1"
    msg.spec.service.namespace, msg.spec.service.name = "default", "widgets"
    msg.spec.service.port = 443
    msg.spec.groupPriorityMinimum, msg.spec.versionPriority = 1000, 15
    msg.spec.insecureSkipTLSVerify = True
    path = "/apis/apiregistration.k8s.io/v1/apiservices"
    code, made = _post_protobuf(standin, path, "apiregistration.k8s.io/v1", "APIService", msg)
    assert code == 201, made
    as_json = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1alpha1.widgets.example.com"},
        "spec": {
            "service": {"namespace": "default", "name": "widgets", "port": 443},
            "group": "widgets.example.com",
            "version": "v1alpha1",
            "insecureSkipTLSVerify": True,
            "groupPriorityMinimum": 1000,
            "versionPriority": 15,
        },
    }
    assert made["spec"] == as_json["spec"]
    _request(standin, "DELETE", f"{path}/v1alpha1.widgets.example.com")


def test_defaults_are_applied_on_create_and_patch(
    ext: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    """Defaults are filled in by the server, after pruning and before validation; a
    patch that removes a defaulted field gets the default back."""
    made = crd("sprockets", "Sprocket")
    made["spec"]["versions"][0]["schema"] = {"openAPIV3Schema": DEFAULTED_SCHEMA}
    del made["spec"]["versions"][0]["additionalPrinterColumns"]
    ext.create_custom_resource_definition(made)
    eventually(lambda: _established(ext, f"sprockets.{GROUP}"), timeout=10)
    body = {"apiVersion": f"{GROUP}/v1", "kind": "Sprocket", "metadata": {"name": "s"}}
    body["spec"] = {"replicas": 2, "mode": None, "ports": [{"port": 53}], "unknown": 1}
    got = eventually(
        lambda: custom.create_namespaced_custom_object(GROUP, "v1", "default", "sprockets", body),
        timeout=10,
    )
    assert got["spec"] == {
        "replicas": 2,
        "mode": "fast",
        "note": "n",
        "ports": [{"port": 53, "protocol": "TCP"}],
    }
    patched = custom.patch_namespaced_custom_object(
        GROUP, "v1", "default", "sprockets", "s", {"spec": {"replicas": None}}
    )
    assert patched["spec"]["replicas"] == 1
