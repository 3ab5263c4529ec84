"""ResourceQuotas in the stand-in: quantities, usage and the admission plugin's refusals as
plain functions, then quota status and admission through a running API
(STANDIN_NO_NODE=1)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import polling
import pytest
from k8s_standin import quantity, quota, resources, testing
from k8s_standin.errors import ApiError
from kubernetes import client, config
from kubernetes.client.rest import ApiException

Obj = dict[str, Any]
PODS = resources.get("", "v1", "pods")
CONFIGMAPS = resources.get("", "v1", "configmaps")
DEPLOYMENTS = resources.get("apps", "v1", "deployments")


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("1000m", "1"),
        ("1500m", "1500m"),
        ("0.5", "500m"),
        ("2000", "2k"),
        ("1536Mi", "1536Mi"),
        ("1024Mi", "1Gi"),
        ("512", "512"),
        ("1e3", "1e3"),
        ("0", "0"),
    ],
)
def test_quantities_print_canonically(written: str, canonical: str) -> None:
    assert quantity.normalize(written) == canonical


def test_sums_keep_the_left_format() -> None:
    total = quantity.parse("512Mi") + quantity.parse("512Mi")
    assert str(total) == "1Gi"
    with pytest.raises(quantity.Invalid):
        quantity.parse("lots")


def pod(name: str, *containers: Obj, phase: str = "Pending") -> Obj:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"containers": list(containers)},
        "status": {"phase": phase},
    }


def container(name: str, requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    return {"name": name, "resources": {"requests": requests or {}, "limits": limits or {}}}


def rq(name: str, hard: Obj, used: Obj | None = None) -> Obj:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"hard": hard},
        "status": {"hard": hard, "used": used or dict.fromkeys(hard, "0")},
    }


def test_pod_usage_sums_containers_and_skips_finished_pods() -> None:
    p = pod(
        "p",
        container("a", {"cpu": "250m", "memory": "64Mi"}, {"cpu": "500m"}),
        container("b", {"cpu": "250m", "memory": "64Mi"}),
    )
    p["spec"]["initContainers"] = [container("i", {"cpu": "1"})]
    used = {k: str(v) for k, v in quota.usage(PODS, p).items()}
    assert used == {
        "pods": "1",
        "count/pods": "1",
        "requests.cpu": "1",
        "cpu": "1",
        "requests.memory": "128Mi",
        "memory": "128Mi",
        "limits.cpu": "500m",
    }
    # count/pods counts every stored pod; the rest only pods not finished.
    assert set(quota.usage(PODS, pod("done", phase="Succeeded"))) == {"count/pods"}
    assert str(quota.usage(DEPLOYMENTS, {"metadata": {}})["count/deployments.apps"]) == "1"


def test_exceeded_quota_message() -> None:
    quotas = [rq("compute", {"requests.cpu": "1"}, {"requests.cpu": "500m"})]
    big = pod("big", container("c", {"cpu": "600m"}))
    with pytest.raises(ApiError) as err:
        quota.admit(PODS, big, quotas, "big")
    status = err.value.status()
    assert (status["code"], status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'pods "big" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, '
        "used: requests.cpu=500m, limited: requests.cpu=1"
    )
    small = pod("small", container("c", {"cpu": "500m"}))
    [(charged, new)] = quota.admit(PODS, small, quotas, "small")
    assert charged["metadata"]["name"] == "compute" and new["used"] == {"requests.cpu": "1"}


def test_pods_must_name_what_a_quota_constrains() -> None:
    quotas = [rq("compute", {"limits.memory": "1Gi", "requests.cpu": "1", "pods": "5"})]
    bare = pod("bare", container("web"), container("log", {"cpu": "100m"}))
    with pytest.raises(ApiError) as err:
        quota.admit(PODS, bare, quotas, "bare")
    assert err.value.message == (
        'pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: '
        "log,web; requests.cpu for: web"
    )


def test_counts_of_any_kind() -> None:
    quotas = [rq("objects", {"configmaps": "1"}, {"configmaps": "1"})]
    with pytest.raises(ApiError) as err:
        quota.admit(CONFIGMAPS, {"metadata": {"name": "x"}}, quotas, "x")
    assert "exceeded quota: objects, requested: configmaps=1, used: configmaps=1, limited: " in (
        err.value.message
    )
    unrelated = [rq("objects", {"secrets": "0"})]
    assert quota.admit(CONFIGMAPS, {"metadata": {"name": "x"}}, unrelated, "x") == []


# -- through the API ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[testing.StandIn]:
    with testing.running(testing.k3s(tmp_path_factory.mktemp("k3s"))) as started:
        yield started


# The quota controller runs on its own period: give it longer.
eventually = functools.partial(polling.eventually, timeout=10.0, interval=0.1)


def test_quota_status_and_admission_through_the_api(standin: testing.StandIn) -> None:
    core = client.CoreV1Api(config.new_client_from_config(config_file=str(standin.kubeconfig)))
    eventually(lambda: core.list_namespaced_service_account("default").items)
    hard = {"pods": "1", "requests.memory": "1024Mi", "limits.memory": "2Gi"}
    made = core.create_namespaced_resource_quota(
        "default", {"metadata": {"name": "mem"}, "spec": {"hard": hard}}
    )
    assert made.spec.hard["requests.memory"] == "1Gi"
    assert made.status.hard == {"pods": "1", "requests.memory": "1Gi", "limits.memory": "2Gi"}
    assert made.status.used == {"pods": "0", "requests.memory": "0", "limits.memory": "0"}
    resources_ = {"limits": {"memory": "512Mi"}}  # the request defaults to the limit
    body = {
        "metadata": {"name": "one"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "resources": resources_}]},
    }
    core.create_namespaced_pod("default", body)
    used = core.read_namespaced_resource_quota("mem", "default").status.used
    assert used == {"pods": "1", "requests.memory": "512Mi", "limits.memory": "512Mi"}
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("default", dict(body, metadata={"name": "two"}))
    status = json.loads(err.value.body)
    assert (err.value.status, status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'pods "two" is forbidden: exceeded quota: mem, requested: pods=1, used: pods=1, '
        "limited: pods=1"
    )
    core.delete_namespaced_pod("one", "default")
    eventually(
        lambda: core.read_namespaced_resource_quota("mem", "default").status.used["pods"] == "0"
    )
    core.create_namespaced_pod("default", dict(body, metadata={"name": "two"}))
