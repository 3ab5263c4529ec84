"""The stand-in control plane against the official Python client and kubectl.

Every test runs the stand-in as a real subprocess on loopback with its own data
dir and port, API only (STANDIN_NO_NODE=1): the node side has its own tests.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s_standin import testing
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from polling import eventually

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


def api_client(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


@pytest.fixture(scope="module")
def k3s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[testing.StandIn]:
    with testing.running(testing.k3s(tmp_path_factory.mktemp("k3s"))) as standin:
        yield standin


@pytest.fixture(scope="module")
def core(k3s: testing.StandIn) -> client.CoreV1Api:
    return client.CoreV1Api(api_client(k3s.kubeconfig))


@pytest.fixture
def ns(core: client.CoreV1Api, request: pytest.FixtureRequest) -> str:
    name = "t-" + request.node.name.lower().replace("_", "-")[:50].strip("-")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    eventually(lambda: _exists(lambda: core.read_namespaced_service_account("default", name)))
    return name


def _exists(read: Callable[[], Any]) -> bool:
    try:
        read()
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise


def _status_body(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


def kubectl(
    standin: testing.StandIn, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", str(standin.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


# -- basics -------------------------------------------------------------------


def test_version_and_builtins(k3s: testing.StandIn, core: client.CoreV1Api) -> None:
    info = client.VersionApi(api_client(k3s.kubeconfig)).get_code()
    assert info.git_version == "v1.36.5+k3s1"
    assert (info.major, info.minor) == ("1", "36")
    names = {n.metadata.name for n in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    svc = core.read_namespaced_service("kubernetes", "default")
    assert svc.spec.cluster_ip == "10.43.0.1"
    eps = core.read_namespaced_endpoints("kubernetes", "default")
    assert eps.subsets[0].ports[0].port == k3s.port
    assert "k3s is up and running" in k3s.log()


def test_crud_and_selectors(core: client.CoreV1Api, ns: str) -> None:
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="cm1", labels={"app": "a"}), data={"k": "v"}
    )
    created = core.create_namespaced_config_map(ns, body)
    assert created.metadata.uid and created.metadata.creation_timestamp
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm2", labels={"app": "b"}))
    )
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, body)
    assert err.value.status == 409 and _status_body(err.value)["reason"] == "AlreadyExists"

    assert [
        c.metadata.name for c in core.list_namespaced_config_map(ns, label_selector="app=a").items
    ] == ["cm1"]
    assert [
        c.metadata.name
        for c in core.list_namespaced_config_map(ns, label_selector="app in (a,b),app!=a").items
    ] == ["cm2"]
    assert [
        c.metadata.name
        for c in core.list_namespaced_config_map(ns, field_selector="metadata.name=cm2").items
    ] == ["cm2"]
    page = core.list_namespaced_config_map(ns, label_selector="app", limit=1)
    assert len(page.items) == 1 and page.metadata._continue
    rest = core.list_namespaced_config_map(
        ns, label_selector="app", limit=1, _continue=page.metadata._continue
    )
    assert {page.items[0].metadata.name, rest.items[0].metadata.name} == {"cm1", "cm2"}

    patched = core.patch_namespaced_config_map("cm1", ns, {"data": {"x": "y"}})
    assert patched.data == {"k": "v", "x": "y"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)
    patched.data = {"only": "this"}
    replaced = core.replace_namespaced_config_map("cm1", ns, patched)
    assert replaced.data == {"only": "this"}
    core.delete_namespaced_config_map("cm1", ns)
    assert not _exists(lambda: core.read_namespaced_config_map("cm1", ns))
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("cm1", ns)
    status = _status_body(err.value)
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "NotFound", 404)
    assert status["message"] == 'configmaps "cm1" not found'


def test_json_patch_and_strategic_merge(k3s: testing.StandIn, ns: str) -> None:
    apps = client.AppsV1Api(api_client(k3s.kubeconfig))
    dep = {
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "a", "image": "busybox:1.36"},
                        {
                            "name": "b",
                            "image": "busybox:1.36",
                            "env": [{"name": "X", "value": "1"}],
                        },
                    ]
                },
            },
        },
    }
    created = apps.create_namespaced_deployment(ns, dep)
    assert created.spec.replicas == 1
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.template.spec.restart_policy == "Always"
    assert created.metadata.generation == 1
    # Strategic merge: the containers list merges by name instead of being replaced.
    smp = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "b", "env": [{"name": "Y", "value": "2"}]}]}
            }
        }
    }
    after = apps.patch_namespaced_deployment("web", ns, smp)
    containers = {c.name: c for c in after.spec.template.spec.containers}
    assert set(containers) == {"a", "b"}
    assert {e.name for e in containers["b"].env} == {"X", "Y"}
    assert after.metadata.generation == 2
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 3}]
    assert apps.patch_namespaced_deployment("web", ns, ops).spec.replicas == 3
    scale = apps.read_namespaced_deployment_scale("web", ns)
    assert scale.spec.replicas == 3 and scale.status.selector == "app=web"
    apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 0}})
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 0
    # Status goes through /status only.
    apps.patch_namespaced_deployment_status("web", ns, {"status": {"replicas": 7}})
    apps.patch_namespaced_deployment("web", ns, {"status": {"replicas": 1}})
    assert apps.read_namespaced_deployment("web", ns).status.replicas == 7


def test_field_managers_over_http(k3s: testing.StandIn, ns: str) -> None:
    """The manager of a write is `fieldManager`, else the User-Agent's product; apply
    needs a fieldManager and force is for apply only (ValidatePatchOptions)."""
    import http.client
    import urllib.parse

    path = f"/api/v1/namespaces/{ns}/configmaps"

    def call(method: str, url: str, ctype: str, body: Any, **query: str) -> tuple[int, Any]:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", k3s.port, timeout=10, context=k3s.admin_context()
        )
        data = body if isinstance(body, str) else json.dumps(body)
        target = url + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Content-Type": ctype, "User-Agent": "standin-test/1.0 (linux)"}
        conn.request(method, target, body=data, headers=headers)
        resp = conn.getresponse()
        answer = json.loads(resp.read())
        conn.close()
        return resp.status, answer

    code, _ = call(
        "POST", path, "application/json", {"metadata": {"name": "c"}, "data": {"a": "1"}}
    )
    assert code == 201
    item = f"{path}/c"
    apply = "application/apply-patch+yaml"
    config = json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}}
    )
    code, status = call("PATCH", item, apply, config)
    assert code == 422 and status["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
        "is required for apply patch"
    )
    code, status = call("PATCH", item, "application/merge-patch+json", {}, force="true")
    assert code == 422 and status["details"]["causes"][0]["field"] == "force"
    code, status = call("PATCH", item, "application/merge-patch+json", {}, fieldManager="a\tb")
    assert code == 422 and status["details"]["causes"][0]["reason"] == "FieldValueInvalid"
    code, status = call("PATCH", item, apply, config, fieldManager="me")
    assert code == 409 and status["message"] == (
        'Apply failed with 1 conflict: conflict with "standin-test" using v1: .data.a'
    )
    code, out = call("PATCH", item, apply, config, fieldManager="me", force="true")
    assert code == 200 and out["data"] == {"a": "2"}
    managers = {(e["manager"], e["operation"]) for e in out["metadata"]["managedFields"]}
    assert managers == {("standin-test", "Update"), ("me", "Apply")}  # the creator owns .data
    patch = {"data": {"b": "1"}}
    code, out = call("PATCH", item, "application/merge-patch+json", patch, fieldManager="ed")
    managers = {(e["manager"], e["operation"]) for e in out["metadata"]["managedFields"]}
    assert managers == {("standin-test", "Update"), ("me", "Apply"), ("ed", "Update")}


def test_watch_orders_events(core: client.CoreV1Api, ns: str) -> None:
    start_rv = core.list_namespaced_config_map(ns).metadata.resource_version
    seen: list[tuple[str, str, int]] = []
    done = threading.Event()

    def consume() -> None:
        w = watch.Watch()
        for event in w.stream(
            core.list_namespaced_config_map,
            ns,
            resource_version=start_rv,
            field_selector="metadata.name=w1",
            timeout_seconds=10,
        ):
            obj = event["object"]
            seen.append((event["type"], obj.metadata.name, int(obj.metadata.resource_version)))
            if event["type"] == "DELETED":
                w.stop()
        done.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    core.create_namespaced_config_map(ns, {"metadata": {"name": "w1"}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "other"}})
    core.patch_namespaced_config_map("w1", ns, {"data": {"a": "1"}})
    core.delete_namespaced_config_map("w1", ns)
    assert done.wait(10), f"watch did not end; saw {seen}"
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
    rvs = [rv for _, _, rv in seen]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3 and rvs[0] > int(start_rv)


def test_stale_update_conflicts(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}, "data": {"v": "1"}})
    core.replace_namespaced_config_map(
        "c",
        ns,
        {
            "metadata": {"name": "c", "resourceVersion": cm.metadata.resource_version},
            "data": {"v": "2"},
        },
    )
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map(
            "c",
            ns,
            {
                "metadata": {"name": "c", "resourceVersion": cm.metadata.resource_version},
                "data": {"v": "3"},
            },
        )
    status = _status_body(err.value)
    assert err.value.status == 409 and status["reason"] == "Conflict"
    assert "the object has been modified" in status["message"]
    assert core.read_namespaced_config_map("c", ns).data == {"v": "2"}


def test_invalid_pod_is_422_with_causes(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod(ns, {"metadata": {"name": "bad"}, "spec": {"containers": []}})
    status = _status_body(err.value)
    assert err.value.status == 422
    assert status["kind"] == "Status" and status["apiVersion"] == "v1"
    assert (status["status"], status["reason"], status["code"]) == ("Failure", "Invalid", 422)
    assert status["details"]["name"] == "bad" and status["details"]["kind"] == "Pod"
    assert {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.containers",
    } in status["details"]["causes"]
    assert status["message"].startswith('Pod "bad" is invalid: ')


def test_pod_defaults_and_field_selectors(core: client.CoreV1Api, ns: str) -> None:
    pod = core.create_namespaced_pod(
        ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    )
    assert pod.spec.restart_policy == "Always"
    assert pod.spec.dns_policy == "ClusterFirst"
    assert pod.spec.termination_grace_period_seconds == 30
    assert pod.spec.service_account_name == "default"
    assert pod.spec.containers[0].image_pull_policy == "Always"
    assert pod.status.phase == "Pending"
    core.patch_namespaced_pod("p", ns, {"spec": {"nodeName": "n1"}})
    assert [
        p.metadata.name
        for p in core.list_namespaced_pod(
            ns, field_selector="spec.nodeName=n1,status.phase=Pending"
        ).items
    ] == ["p"]
    assert core.list_pod_for_all_namespaces(field_selector="spec.nodeName=nope").items == []


def test_binding_assigns_a_node_once(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(
        ns, {"metadata": {"name": "b"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    )
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "b"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }
    core.create_namespaced_pod_binding("b", ns, binding, _preload_content=False)
    assert core.read_namespaced_pod("b", ns).spec.node_name == "node-1"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("b", ns, binding, _preload_content=False)
    assert err.value.status == 409


def test_eviction_deletes_the_pod(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(
        ns,
        {"metadata": {"name": "ev"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
    )
    core.create_namespaced_pod_eviction(
        "ev", ns, {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "ev"}}
    )
    assert not _exists(lambda: core.read_namespaced_pod("ev", ns))


def test_default_service_account_arrives_asynchronously(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "sa-race"}})
    # Like upstream's ServiceAccount admission: no pods before the account exists.
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod(
            "sa-race",
            {
                "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        )
    assert err.value.status == 403
    assert 'serviceaccount "default" not found' in _status_body(err.value)["message"]
    eventually(
        lambda: _exists(lambda: core.read_namespaced_service_account("default", "sa-race")), 2
    )
    assert core.read_namespaced_config_map("kube-root-ca.crt", "sa-race").data["ca.crt"]


def test_namespace_finalization(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map(
        "doomed", {"metadata": {"name": "cm", "finalizers": ["test/hold"]}}
    )
    core.delete_namespace("doomed")
    ns = core.read_namespace("doomed")
    assert ns.status.phase == "Terminating" and ns.metadata.deletion_timestamp
    assert ns.spec.finalizers == ["kubernetes"]
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("doomed", {"metadata": {"name": "late"}})
    assert err.value.status == 403 and "being terminated" in _status_body(err.value)["message"]
    # The held object keeps the namespace until its finalizer goes.
    cm = eventually(
        lambda: (
            core.read_namespaced_config_map("cm", "doomed").metadata.deletion_timestamp
            and core.read_namespaced_config_map("cm", "doomed")
        )
    )
    assert _exists(lambda: core.read_namespace("doomed"))
    core.patch_namespaced_config_map("cm", "doomed", {"metadata": {"finalizers": None}})
    assert cm.metadata.name == "cm"
    eventually(lambda: not _exists(lambda: core.read_namespace("doomed")))


def test_secret_string_data_and_protected_namespaces(core: client.CoreV1Api, ns: str) -> None:
    secret = core.create_namespaced_secret(
        ns, {"metadata": {"name": "s"}, "stringData": {"user": "admin"}}
    )
    assert secret.data == {"user": "YWRtaW4="} and secret.type == "Opaque"
    assert secret.string_data is None
    with pytest.raises(ApiException) as err:
        core.delete_namespace("kube-system")
    assert err.value.status == 403
    assert core.read_namespace("kube-system").status.phase == "Active"


def test_owner_references_cascade(core: client.CoreV1Api, ns: str) -> None:
    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": "owner"}})
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner.metadata.uid,
        "blockOwnerDeletion": True,
    }
    core.create_namespaced_config_map(ns, {"metadata": {"name": "dep", "ownerReferences": [ref]}})
    core.delete_namespaced_config_map("owner", ns, propagation_policy="Foreground")
    # Foreground: the owner waits, marked for deletion, until its dependent is gone.
    eventually(lambda: not _exists(lambda: core.read_namespaced_config_map("dep", ns)))
    eventually(lambda: not _exists(lambda: core.read_namespaced_config_map("owner", ns)))

    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": "owner2"}})
    ref.update(name="owner2", uid=owner.metadata.uid)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "dep2", "ownerReferences": [ref]}})
    core.delete_namespaced_config_map("owner2", ns, propagation_policy="Orphan")
    eventually(lambda: not _exists(lambda: core.read_namespaced_config_map("owner2", ns)))
    assert not core.read_namespaced_config_map("dep2", ns).metadata.owner_references


def test_pod_logs_from_kubelet_layout(
    k3s: testing.StandIn, core: client.CoreV1Api, ns: str
) -> None:
    pod = core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "logger"},
            "spec": {"containers": [{"name": "main", "image": "busybox"}]},
        },
    )
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("logger", ns)
    assert err.value.status == 400 and "waiting to start" in _status_body(err.value)["message"]
    core.patch_namespaced_pod_status(
        "logger",
        ns,
        {
            "status": {
                "containerStatuses": [
                    {
                        "name": "main",
                        "restartCount": 1,
                        "ready": True,
                        "image": "busybox",
                        "imageID": "",
                        "state": {"running": {}},
                    }
                ]
            }
        },
    )
    base = k3s.workdir / "log" / "pods" / f"{ns}_logger_{pod.metadata.uid}" / "main"
    base.mkdir(parents=True)
    (base / "0.log").write_text("old 1\nold 2\n")
    (base / "1.log").write_text("line 1\nline 2\nline 3\n")
    assert core.read_namespaced_pod_log("logger", ns) == "line 1\nline 2\nline 3\n"
    assert core.read_namespaced_pod_log("logger", ns, tail_lines=1) == "line 3\n"
    assert (
        core.read_namespaced_pod_log("logger", ns, container="main", previous=True)
        == "old 1\nold 2\n"
    )
    resp = core.read_namespaced_pod_log("logger", ns, follow=True, _preload_content=False)
    first = resp.read(len("line 1\nline 2\nline 3\n"))
    with (base / "1.log").open("a") as fh:
        fh.write("line 4\n")
    more = resp.read(len("line 4\n"))
    # A follow stream never ends: close it. release_conn() would return a connection with
    # the stream still arriving to the pool (any keep-alive server, the real one too).
    resp.close()
    assert (first + more).decode().endswith("line 3\nline 4\n")


# -- services -----------------------------------------------------------------


def _service(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}], **spec}}


def test_cluster_ips_single_stack(core: client.CoreV1Api, ns: str) -> None:
    svc = core.create_namespaced_service(ns, _service("s1"))
    assert svc.spec.ip_families == ["IPv4"] and svc.spec.ip_family_policy == "SingleStack"
    assert svc.spec.cluster_ip.startswith("10.43.") and svc.spec.cluster_ips == [
        svc.spec.cluster_ip
    ]
    assert svc.spec.ports[0].target_port == 80
    prefer = core.create_namespaced_service(ns, _service("s2", ipFamilyPolicy="PreferDualStack"))
    assert prefer.spec.ip_families == ["IPv4"] and len(prefer.spec.cluster_ips) == 1
    assert prefer.spec.cluster_ip != svc.spec.cluster_ip
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service(ns, _service("s3", ipFamilyPolicy="RequireDualStack"))
    status = _status_body(err.value)
    assert err.value.status == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "spec.ipFamilyPolicy"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service(ns, _service("s4", ipFamilies=["IPv6"]))
    assert err.value.status == 422
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service(ns, _service("s5", clusterIP=svc.spec.cluster_ip))
    assert "already allocated" in _status_body(err.value)["message"]
    node_port = core.create_namespaced_service(ns, _service("np", type="NodePort"))
    assert 30000 <= node_port.spec.ports[0].node_port <= 32767
    headless = core.create_namespaced_service(ns, _service("hl", clusterIP="None"))
    assert headless.spec.cluster_ip == "None"


@pytest.fixture(scope="module")
def dual_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[client.CoreV1Api]:
    standin = testing.k3s(
        tmp_path_factory.mktemp("dual"),
        "--cluster-cidr",
        "10.42.0.0/16,2001:cafe:42::/56",
        "--service-cidr",
        "10.43.0.0/16,2001:cafe:43::/112",
        # k3s refuses a dual-stack cluster CIDR without a node address of each family.
        "--node-ip",
        "127.0.0.1,::1",
    )
    with testing.running(standin):
        yield client.CoreV1Api(api_client(standin.kubeconfig))


def test_cluster_ips_dual_stack(dual_stack: client.CoreV1Api) -> None:
    core = dual_stack
    core.create_namespace({"metadata": {"name": "dual"}})
    single = core.create_namespaced_service("dual", _service("a"))
    assert single.spec.ip_families == ["IPv4"]
    both = core.create_namespaced_service("dual", _service("b", ipFamilyPolicy="PreferDualStack"))
    assert both.spec.ip_families == ["IPv4", "IPv6"]
    assert both.spec.cluster_ips[0].startswith("10.43.")
    assert both.spec.cluster_ips[1].startswith("2001:cafe:43::")
    v6first = core.create_namespaced_service(
        "dual", _service("c", ipFamilyPolicy="RequireDualStack", ipFamilies=["IPv6", "IPv4"])
    )
    assert v6first.spec.cluster_ip.startswith("2001:cafe:43::")
    v6 = core.create_namespaced_service("dual", _service("d", ipFamilies=["IPv6"]))
    assert v6.spec.ip_families == ["IPv6"] and len(v6.spec.cluster_ips) == 1


# -- kubectl --------------------------------------------------------------------

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata: {name: kc}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: kc}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.27", ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: kc}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


@needs_kubectl
def test_kubectl_discovery(k3s: testing.StandIn) -> None:
    out = kubectl(k3s, "api-resources").stdout
    for needle in ("deployments", "ingresses", "storageclasses", "leases", "daemonsets"):
        assert needle in out
    assert "Server Version: v1.36.5+k3s1" in kubectl(k3s, "version").stdout
    table = kubectl(k3s, "get", "namespaces").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "STATUS", "AGE"]
    assert any(line.split()[:2] == ["kube-system", "Active"] for line in table)


@needs_kubectl
def test_kubectl_apply_wait_delete(k3s: testing.StandIn) -> None:
    out = kubectl(k3s, "apply", "-f", "-", stdin=MANIFEST.replace("REPLICAS", "2")).stdout
    assert "deployment.apps/web created" in out
    kubectl(k3s, "wait", "--for=jsonpath={.status.phase}=Active", "namespace/kc", "--timeout=10s")
    out = kubectl(k3s, "apply", "-f", "-", stdin=MANIFEST.replace("REPLICAS", "4")).stdout
    assert "deployment.apps/web configured" in out and "service/web unchanged" in out
    got = json.loads(kubectl(k3s, "get", "deploy", "web", "-n", "kc", "-o", "json").stdout)
    assert got["spec"]["replicas"] == 4
    assert "kubectl.kubernetes.io/last-applied-configuration" in got["metadata"]["annotations"]
    out = kubectl(
        k3s, "apply", "--server-side", "-f", "-", stdin=MANIFEST.replace("REPLICAS", "1")
    ).stdout
    assert "serverside-applied" in out
    kubectl(k3s, "label", "svc", "web", "-n", "kc", "tier=front")
    assert (
        kubectl(k3s, "get", "svc", "-n", "kc", "-l", "tier=front", "-o", "name").stdout.strip()
        == "service/web"
    )
    kubectl(k3s, "wait", "--for=create", "serviceaccount/default", "-n", "kc", "--timeout=10s")
    kubectl(k3s, "delete", "namespace", "kc", "--timeout=20s")
    assert kubectl(k3s, "get", "ns", "kc", check=False).returncode != 0


@needs_kubectl
def test_kubectl_reports_invalid_object(k3s: testing.StandIn) -> None:
    bad = "apiVersion: v1\nkind: Pod\nmetadata: {name: bad, namespace: default}\nspec: {}\n"
    result = kubectl(k3s, "apply", "-f", "-", stdin=bad, check=False)
    assert result.returncode != 0
    assert 'The Pod "bad" is invalid' in result.stderr and "spec.containers" in result.stderr


@needs_kubectl
def test_kubectl_typed_creates(k3s: testing.StandIn) -> None:
    """kubectl sends protobuf for these; the stand-in decodes the simple kinds."""
    kubectl(k3s, "create", "namespace", "typed")
    kubectl(k3s, "create", "configmap", "c", "-n", "typed", "--from-literal=a=b")
    kubectl(k3s, "create", "secret", "generic", "s", "-n", "typed", "--from-literal=pw=x y")
    kubectl(k3s, "create", "serviceaccount", "robot", "-n", "typed")
    cm = json.loads(kubectl(k3s, "get", "cm", "c", "-n", "typed", "-o", "json").stdout)
    assert cm["data"] == {"a": "b"}
    secret = json.loads(kubectl(k3s, "get", "secret", "s", "-n", "typed", "-o", "json").stdout)
    assert secret["data"] == {"pw": "eCB5"} and secret["type"] == "Opaque"
    again = kubectl(k3s, "create", "namespace", "typed", check=False)
    assert again.returncode != 0 and 'namespaces "typed" already exists' in again.stderr
    described = kubectl(k3s, "describe", "service", "kubernetes").stdout
    assert f"127.0.0.1:{k3s.port}" in described
    assert kubectl(k3s, "auth", "can-i", "delete", "nodes").stdout.strip() == "yes"


@needs_kubectl
def test_kubectl_logs_and_follow_end(k3s: testing.StandIn, core: client.CoreV1Api, ns: str) -> None:
    pod = core.create_namespaced_pod(
        ns,
        {"metadata": {"name": "lg"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
    )
    core.patch_namespaced_pod_status(
        "lg",
        ns,
        {
            "status": {
                "containerStatuses": [
                    {
                        "name": "c",
                        "restartCount": 0,
                        "ready": True,
                        "image": "busybox",
                        "imageID": "",
                        "state": {"running": {}},
                    }
                ]
            }
        },
    )
    base = k3s.workdir / "log" / "pods" / f"{ns}_lg_{pod.metadata.uid}" / "c"
    base.mkdir(parents=True)
    (base / "0.log").write_text("2025-01-01T00:00:00.000000000Z stdout F hello\n")
    assert kubectl(k3s, "logs", "lg", "-n", ns).stdout == "hello\n"
    assert kubectl(k3s, "logs", "lg", "-n", ns, "--timestamps").stdout.startswith("2025-01-01")
    follower = subprocess.Popen(
        [KUBECTL or "kubectl", "--kubeconfig", str(k3s.kubeconfig), "logs", "-f", "lg", "-n", ns],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)
        core.delete_namespaced_pod("lg", ns)
        # A follow stream ends once its pod is gone.
        assert follower.wait(timeout=10) == 0
        assert follower.stdout is not None and follower.stdout.read() == "hello\n"
    finally:
        follower.kill()


def test_delete_answers_like_the_apiserver(core: client.CoreV1Api, ns: str) -> None:
    """ReturnDeletedObject kinds answer with the object, others with a Status; an object
    held by a finalizer comes back with its deletionTimestamp (handlers/delete.go)."""
    claim = core.create_namespaced_persistent_volume_claim(
        ns,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Mi"}},
            },
        },
    )
    assert claim.metadata.finalizers == ["kubernetes.io/pvc-protection"]
    # Typed: the client decodes a PersistentVolumeClaim, here one the finalizer holds
    # (nothing runs the pvc-protection controller in an API-only stand-in).
    deleted = core.delete_namespaced_persistent_volume_claim("data", ns)
    assert isinstance(deleted, client.V1PersistentVolumeClaim)
    assert deleted.metadata.deletion_timestamp is not None
    volume = core.create_persistent_volume(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"{ns}-pv"},
            "spec": {
                "capacity": {"storage": "1Mi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/tmp/nowhere"},
            },
        }
    )
    assert volume.metadata.finalizers == ["kubernetes.io/pv-protection"]
    core.patch_persistent_volume(volume.metadata.name, {"metadata": {"finalizers": None}})
    gone = core.delete_persistent_volume(volume.metadata.name)
    assert isinstance(gone, client.V1PersistentVolume) and gone.metadata.name == f"{ns}-pv"
    # Other kinds answer with a Status once the object is gone...
    core.create_namespaced_config_map(ns, {"metadata": {"name": "plain"}})
    plain = client.ApiClient().sanitize_for_serialization  # ConfigMap DELETE is untyped
    status = plain(core.delete_namespaced_config_map("plain", ns))
    assert status["kind"] == "Status" and status["details"]["name"] == "plain", status
    # ... with the object while a finalizer holds it: 202 only for orphanDependents=false.
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    )
    held, code, _ = core.delete_namespaced_config_map_with_http_info(
        "held", ns, orphan_dependents=False
    )
    assert code == 202 and plain(held)["metadata"]["deletionTimestamp"], held
    _, code, _ = core.delete_namespaced_config_map_with_http_info("held", ns)
    assert code == 200
    core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})


def test_new_workloads_have_the_status_counts_clients_require(
    k3s: testing.StandIn, ns: str
) -> None:
    apps = client.AppsV1Api(api_client(k3s.kubeconfig))
    template = {
        "metadata": {"labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    selector = {"matchLabels": {"app": "x"}}
    ds = apps.create_namespaced_daemon_set(
        ns,
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "ds"},
            "spec": {"selector": selector, "template": template},
        },
    )
    assert (
        ds.status.current_number_scheduled,
        ds.status.desired_number_scheduled,
        ds.status.number_misscheduled,
        ds.status.number_ready,
    ) == (0, 0, 0, 0)
    assert apps.read_namespaced_daemon_set("ds", ns).status.number_ready == 0
    rs = apps.create_namespaced_replica_set(
        ns,
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "rs"},
            "spec": {"replicas": 0, "selector": selector, "template": template},
        },
    )
    assert rs.status.replicas == 0


def test_connections_are_kept_alive(k3s: testing.StandIn) -> None:
    """HTTP/1.1 keep-alive across plain, bodied and streamed (watch) requests: one TLS
    handshake per connection, as with the real API server."""
    import http.client

    conn = http.client.HTTPSConnection(
        "127.0.0.1", k3s.port, timeout=10, context=k3s.admin_context()
    )
    sock = None
    body = json.dumps({"metadata": {"name": "keepalive"}, "data": {"k": "v"}})
    requests = [
        ("GET", "/version", None),
        ("POST", "/api/v1/namespaces/default/configmaps", body),
        ("GET", "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1", None),
        ("DELETE", "/api/v1/namespaces/default/configmaps/keepalive", None),
        ("GET", "/livez", None),
    ]
    for method, path, data in requests:
        conn.request(
            method, path, body=data, headers={"Content-Type": "application/json"} if data else {}
        )
        resp = conn.getresponse()
        resp.read()
        assert resp.status < 300, (method, path, resp.status)
        assert resp.getheader("Connection") != "close", (method, path)
        sock = sock or conn.sock
        assert conn.sock is sock, f"{method} {path} needed a new connection"
    conn.close()


def test_k3s_refuses_a_dual_stack_cluster_cidr_with_one_node_address(tmp_path: Path) -> None:
    standin = testing.k3s(tmp_path, "--cluster-cidr", "10.42.0.0/16,2001:cafe:42::/56")
    with (
        pytest.raises(RuntimeError, match="must share the same IP version"),
        testing.running(standin),
    ):
        pass


def test_a_client_that_never_says_hello_does_not_stop_the_server(tmp_path: Path) -> None:
    import socket

    standin = testing.k3s(tmp_path)
    with testing.running(standin), socket.create_connection(("127.0.0.1", standin.port)):
        # Connected, no TLS hello: others must still be served.
        version = client.VersionApi(api_client(standin.kubeconfig)).get_code(_request_timeout=10)
        assert version.git_version.startswith("v1.")
