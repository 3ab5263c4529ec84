"""PodDisruptionBudgets in the stand-in: the disruption controller's arithmetic and the
eviction decision as plain functions, then both through a running API (STANDIN_NO_NODE=1,
so the tests mark pods Running and Ready themselves)."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import polling
import pytest
from k8s_standin import disruption, testing
from k8s_standin.errors import ApiError
from kubernetes import client, config
from kubernetes.client.rest import ApiException

Obj = dict[str, Any]


def pdb(spec: Obj, status: Obj | None = None, generation: int = 1) -> Obj:
    spec = {"selector": {"matchLabels": {"app": "web"}}, **spec}
    return {
        "metadata": {"name": "budget", "namespace": "ns", "generation": generation},
        "spec": spec,
        "status": status or {},
    }


def pod(name: str, ready: bool = True, owner: str = "rs-1", **meta: Any) -> Obj:
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    refs = [{"kind": "ReplicaSet", "name": owner, "uid": owner, "controller": True}]
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "labels": {"app": "web"},
            "ownerReferences": refs,
            **meta,
        },
        "status": {"phase": "Running", "conditions": conditions},
    }


def scale(replicas: int) -> Callable[[Obj], tuple[str, int] | None]:
    return lambda p: (p["metadata"]["ownerReferences"][0]["uid"], replicas)


# -- the controller's arithmetic ----------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "replicas", "expected"),
    [
        # minAvailable as a number counts the selected pods, not the controllers' scale.
        ({"minAvailable": 2}, 5, (3, 2, 3, 1)),
        # Percentages and maxUnavailable use the scale, rounding up.
        ({"minAvailable": "50%"}, 5, (5, 3, 3, 0)),
        ({"maxUnavailable": 1}, 4, (4, 3, 3, 0)),
        ({"maxUnavailable": "50%"}, 4, (4, 2, 3, 1)),
    ],
)
def test_status_for_each_kind_of_budget(
    spec: Obj, replicas: int, expected: tuple[int, int, int, int]
) -> None:
    pods = [pod("a"), pod("b"), pod("c"), pod("d", ready=False)][: 4 if replicas != 5 else 3]
    got = disruption.status(pdb(spec), pods, scale(replicas))
    fields = ("expectedPods", "desiredHealthy", "currentHealthy", "disruptionsAllowed")
    assert tuple(got[f] for f in fields) == expected
    condition = got["conditions"][0]
    allowed = expected[3] > 0
    assert condition["type"] == "DisruptionAllowed"
    assert condition["status"] == ("True" if allowed else "False")
    assert condition["reason"] == ("SufficientPods" if allowed else "InsufficientPods")
    assert got["observedGeneration"] == 1


def test_deleting_and_evicted_pods_are_not_healthy() -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    budget = pdb({"minAvailable": 1}, {"disruptedPods": {"b": now}})
    pods = [pod("a"), pod("b"), pod("c", deletionTimestamp=now)]
    got = disruption.status(budget, pods, scale(3))
    assert (got["currentHealthy"], got["disruptionsAllowed"]) == (1, 0)
    assert got["disruptedPods"] == {"b": now}


def test_a_pod_without_a_scalable_controller_fails_the_sync() -> None:
    got = disruption.status(pdb({"maxUnavailable": 1}), [pod("a")], lambda p: None)
    condition = got["conditions"][0]
    assert (condition["status"], condition["reason"]) == ("False", "SyncFailed")
    assert condition["message"] == 'found no controllers for pod "a"'
    assert got["disruptionsAllowed"] == 0


def test_budget_validation() -> None:
    from k8s_standin.errors import Causes

    causes = Causes()
    disruption.validate(pdb({"minAvailable": 1, "maxUnavailable": "120%"}), causes)
    messages = [c["message"] for c in causes.items]
    assert any(m.endswith(": minAvailable and maxUnavailable cannot be both set") for m in messages)
    assert 'Invalid value: "120%": must not be greater than 100%' in messages


# -- the eviction decision ----------------------------------------------------------------


def test_eviction_counts_against_the_budget() -> None:
    budget = pdb(
        {"minAvailable": 1},
        {
            "observedGeneration": 1,
            "disruptionsAllowed": 1,
            "currentHealthy": 2,
            "desiredHealthy": 1,
        },
    )
    counted = disruption.admit_eviction(pod("a"), [budget])
    assert counted is not None
    assert counted["disruptionsAllowed"] == 0 and "a" in counted["disruptedPods"]
    assert counted["conditions"][0]["reason"] == "InsufficientPods"


def test_eviction_refused_with_upstreams_429() -> None:
    budget = pdb(
        {"minAvailable": 2},
        {
            "observedGeneration": 1,
            "disruptionsAllowed": 0,
            "currentHealthy": 2,
            "desiredHealthy": 2,
        },
    )
    with pytest.raises(ApiError) as err:
        disruption.admit_eviction(pod("a"), [budget])
    status = err.value.status()
    assert (status["code"], status["reason"]) == (429, "TooManyRequests")
    assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert status["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget budget needs 2 healthy pods and has 2 currently",
        }
    ]


def test_eviction_cases_that_skip_the_budget() -> None:
    refusing = pdb(
        {"minAvailable": 1},
        {
            "observedGeneration": 1,
            "disruptionsAllowed": 0,
            "currentHealthy": 1,
            "desiredHealthy": 1,
        },
    )
    pending = pod("p")
    pending["status"]["phase"] = "Pending"
    assert disruption.admit_eviction(pending, [refusing]) is None
    # An unready pod while the budget is met costs nothing.
    assert disruption.admit_eviction(pod("u", ready=False), [refusing]) is None
    unlabelled = pod("n")
    unlabelled["metadata"]["labels"] = {}
    assert disruption.admit_eviction(unlabelled, [refusing]) is None
    # An empty selector selects every pod for the controller, none for eviction.
    everything = pdb({"minAvailable": 1}, dict(refusing["status"]))
    everything["spec"]["selector"] = {}
    assert disruption.selects(everything, pod("a"))
    assert disruption.admit_eviction(pod("a"), [everything]) is None
    stale = pdb({"minAvailable": 1}, {"observedGeneration": 1}, generation=2)
    with pytest.raises(ApiError) as err:
        disruption.admit_eviction(pod("a"), [stale])
    assert err.value.details is not None and err.value.details["retryAfterSeconds"] == 10
    with pytest.raises(disruption.MultipleBudgets):
        disruption.admit_eviction(pod("a"), [refusing, dict(refusing)])


# -- through the API ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[testing.StandIn]:
    with testing.running(testing.k3s(tmp_path_factory.mktemp("k3s"))) as started:
        yield started


# The disruption controller runs on its own period: give it longer.
eventually = functools.partial(polling.eventually, timeout=10.0, interval=0.1)


def test_budget_status_and_eviction_through_the_api(standin: testing.StandIn) -> None:
    api = config.new_client_from_config(config_file=str(standin.kubeconfig))
    core, policy = client.CoreV1Api(api), client.PolicyV1Api(api)
    eventually(lambda: core.list_namespaced_service_account("default").items)
    created = policy.create_namespaced_pod_disruption_budget(
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
        },
    )
    assert created.status.disruptions_allowed == 0 and created.status.expected_pods == 0
    for name in ("w0", "w1", "w2"):
        core.create_namespaced_pod(
            "default",
            {
                "metadata": {"name": name, "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        )
        ready = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        core.patch_namespaced_pod_status(name, "default", {"status": ready})

    def allowed() -> int:
        return int(
            policy.read_namespaced_pod_disruption_budget(
                "web", "default"
            ).status.disruptions_allowed
        )

    eventually(lambda: allowed() == 1)
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "w0"}}
    core.create_namespaced_pod_eviction("w0", "default", eviction)
    # Until the controller counts again, the budget says only that it allows nothing.
    eventually(
        lambda: (
            policy.read_namespaced_pod_disruption_budget("web", "default").status.current_healthy
            == 2
        )
    )
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_eviction(
            "w1", "default", dict(eviction, metadata={"name": "w1"})
        )
    assert err.value.status == 429
    body = json.loads(err.value.body)
    assert body["details"]["causes"][0]["message"] == (
        "The disruption budget web needs 2 healthy pods and has 2 currently"
    )
    assert core.read_namespaced_pod("w1", "default").metadata.name == "w1"
    got = policy.read_namespaced_pod_disruption_budget("web", "default").status
    assert (got.current_healthy, got.desired_healthy, got.expected_pods) == (2, 2, 2)
