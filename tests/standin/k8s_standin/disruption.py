"""PodDisruptionBudgets: validation, the disruption controller's status, and the
eviction subresource's budget check.

Facts from kubernetes v1.36: pkg/apis/policy/validation/validation.go (the spec),
pkg/controller/disruption/disruption.go (getExpectedPodCount, countHealthyPods,
buildDisruptedPodMap, updatePdbStatus), pkg/apis/policy/helper (the DisruptionAllowed
condition) and pkg/registry/core/pod/storage/eviction.go (canIgnorePDB,
checkAndDecrement and its 429 TooManyRequests).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from .errors import ApiError, Causes
from .selectors import match_labels

Obj = dict[str, Any]
#: How long an eviction's pod stays in disruptedPods waiting for its deletion
#: (DeletionTimeout in disruption.go).
DELETION_TIMEOUT_S = 120
MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."


class SyncFailed(Exception):
    """The controller cannot compute a budget (a pod whose controller has no scale)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


# -- validation --------------------------------------------------------------------------
def _int_or_percent(value: Any, path: str, causes: Causes) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        causes.invalid(path, value, "must be an integer or percentage (e.g '5%')")
        return
    if isinstance(value, int):
        if value < 0:
            causes.invalid(path, value, "must be greater than or equal to 0")
        return
    digits = value[:-1]
    if not value.endswith("%") or not digits.isdigit():
        causes.invalid(path, value, "must be an integer or percentage (e.g '5%')")
        return
    if int(digits) > 100:
        causes.invalid(path, value, "must not be greater than 100%")


def validate(pdb: Obj, causes: Causes) -> None:
    spec = pdb.get("spec") or {}
    low, high = spec.get("minAvailable"), spec.get("maxUnavailable")
    if low is not None and high is not None:
        causes.invalid("spec", "{...}", "minAvailable and maxUnavailable cannot be both set")
    if low is not None:
        _int_or_percent(low, "spec.minAvailable", causes)
    if high is not None:
        _int_or_percent(high, "spec.maxUnavailable", causes)
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("IfHealthyBudget", "AlwaysAllow"):
        causes.unsupported(
            "spec.unhealthyPodEvictionPolicy", policy, ["AlwaysAllow", "IfHealthyBudget"]
        )


def initial_status() -> Obj:
    """What the strategy writes on create: a zero status for the controller to fill."""
    return {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}


# -- selection and health ----------------------------------------------------------------
def selects(pdb: Obj, pod: Obj) -> bool:
    """policy/v1: a nil selector selects nothing, an empty one every pod of the
    namespace."""
    if pod["metadata"].get("namespace") != pdb["metadata"].get("namespace"):
        return False
    selector = (pdb.get("spec") or {}).get("selector")
    if selector is None:
        return False
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return True
    return match_labels(selector, pod["metadata"].get("labels") or {})


def ready(pod: Obj) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _scaled(value: int | str, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent with rounding up."""
    if isinstance(value, int):
        return value
    return math.ceil(int(value.rstrip("%")) * total / 100)


def _expected_scale(pods: list[Obj], scale_of: Callable[[Obj], tuple[str, int] | None]) -> int:
    """The sum of the scales of the pods' controllers, each counted once; pods
    without a controller are left out, as upstream's unmanaged pods are."""
    scales: dict[str, int] = {}
    for pod in pods:
        refs = [r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")]
        if not refs:
            continue
        found = scale_of(pod)
        if found is None:
            raise SyncFailed(f'found no controllers for pod "{pod["metadata"]["name"]}"')
        uid, scale = found
        scales[uid] = scale
    return sum(scales.values())


def expected(
    pdb: Obj, pods: list[Obj], scale_of: Callable[[Obj], tuple[str, int] | None]
) -> tuple[int, int]:
    """(expectedPods, desiredHealthy), as getExpectedPodCount computes them."""
    spec = pdb.get("spec") or {}
    high, low = spec.get("maxUnavailable"), spec.get("minAvailable")
    if high is not None:
        count = _expected_scale(pods, scale_of)
        return count, max(count - _scaled(high, count), 0)
    if isinstance(low, int):
        return len(pods), low
    if isinstance(low, str):
        count = _expected_scale(pods, scale_of)
        return count, _scaled(low, count)
    return 0, 0


def _disrupted(pdb: Obj, pods: list[Obj], now: dt.datetime) -> dict[str, str]:
    """The evicted pods still waiting for their deletion (buildDisruptedPodMap)."""
    by_name = {p["metadata"]["name"]: p for p in pods}
    kept: dict[str, str] = {}
    for name, stamp in ((pdb.get("status") or {}).get("disruptedPods") or {}).items():
        pod = by_name.get(name)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            continue
        try:
            if (now - _parse(stamp)).total_seconds() > DELETION_TIMEOUT_S:
                continue
        except ValueError:
            continue
        kept[name] = stamp
    return kept


def _condition(old: Obj, status: str, reason: str, message: str, generation: int) -> list[Obj]:
    previous = next(
        (c for c in old.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None
    )
    since = (
        previous["lastTransitionTime"]
        if previous and previous.get("status") == status and previous.get("lastTransitionTime")
        else _stamp(_now())
    )
    condition = {
        "type": "DisruptionAllowed",
        "status": status,
        "observedGeneration": generation,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    }
    others = [c for c in old.get("conditions") or [] if c.get("type") != "DisruptionAllowed"]
    return [*others, condition]


def status(
    pdb: Obj,
    pods: list[Obj],
    scale_of: Callable[[Obj], tuple[str, int] | None],
    now: dt.datetime | None = None,
) -> Obj:
    """The status the disruption controller writes for `pdb` over the namespace's
    `pods`."""
    now = now or _now()
    old = pdb.get("status") or {}
    generation = int(pdb["metadata"].get("generation", 1))
    chosen = [p for p in pods if selects(pdb, p)]
    try:
        count, desired = expected(pdb, chosen, scale_of)
    except SyncFailed as err:
        # updatePdbStatus's failSafe: nothing may be disrupted while the budget is unknown.
        failed = dict(old, disruptionsAllowed=0, observedGeneration=generation)
        failed["conditions"] = _condition(old, "False", "SyncFailed", str(err), generation)
        return failed
    disrupted = _disrupted(pdb, chosen, now)
    healthy = sum(
        1
        for p in chosen
        if not p["metadata"].get("deletionTimestamp")
        and p["metadata"]["name"] not in disrupted
        and ready(p)
    )
    allowed = healthy - desired
    if count <= 0 or allowed <= 0:
        allowed = 0
    new: Obj = {
        "observedGeneration": generation,
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": count,
    }
    if disrupted:
        new["disruptedPods"] = disrupted
    if allowed > 0:
        new["conditions"] = _condition(old, "True", "SufficientPods", "", generation)
    else:
        new["conditions"] = _condition(old, "False", "InsufficientPods", "", generation)
    return new


# -- eviction ----------------------------------------------------------------------------
def can_ignore(pod: Obj) -> bool:
    """canIgnorePDB: a pod that is not running, or already being deleted, is deleted
    without asking a budget."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(
        pod["metadata"].get("deletionTimestamp")
    )


def budgets_of(pod: Obj, pdbs: list[Obj]) -> list[Obj]:
    """The budgets an eviction consults. Unlike the controller, eviction.go's
    getPodDisruptionBudgets lets a nil or empty selector match nothing."""
    chosen = []
    for pdb in pdbs:
        selector = (pdb.get("spec") or {}).get("selector") or {}
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            continue
        if selects(pdb, pod):
            chosen.append(pdb)
    return chosen


class MultipleBudgets(Exception):
    """More than one budget selects the pod: eviction.go answers with a Status of code
    500 (a result, not an error, so it carries no reason)."""

    MESSAGE = (
        "This pod has more than one PodDisruptionBudget, which the eviction subresource "
        "does not support."
    )


def _refused(cause: str, retry_after: int = 0) -> ApiError:
    details: Obj = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    return ApiError("TooManyRequests", MESSAGE, details, 429)


def _denied_message(pdb: Obj) -> str:
    st = pdb.get("status") or {}
    name = pdb["metadata"]["name"]
    condition = next(
        (c for c in st.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), {}
    )
    failed = condition.get("status") == "False" and condition.get("message")
    if failed and condition.get("reason") == "SyncFailed":
        return (
            f"The disruption budget {name} does not allow evicting pods currently because it "
            f"failed sync: {condition['message']}"
        )
    if st.get("currentHealthy", 0) <= st.get("desiredHealthy", 0):
        return (
            f"The disruption budget {name} needs {st.get('desiredHealthy', 0)} healthy pods "
            f"and has {st.get('currentHealthy', 0)} currently"
        )
    if failed:
        return (
            f"The disruption budget {name} does not allow evicting pods currently "
            f"({condition.get('reason')}): {condition['message']}"
        )
    return f"The disruption budget {name} does not allow evicting pods currently"


def admit_eviction(pod: Obj, pdbs: list[Obj]) -> Obj | None:
    """Decide an eviction of `pod`: the budget's new status to write before the pod is
    deleted, None when no budget is involved, or an ApiError (429, 403); raises
    MultipleBudgets when several budgets select it."""
    if can_ignore(pod):
        return None
    matching = budgets_of(pod, pdbs)
    if len(matching) > 1:
        raise MultipleBudgets(MultipleBudgets.MESSAGE)
    if not matching:
        return None
    pdb = matching[0]
    st = pdb.get("status") or {}
    policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy")
    if not ready(pod):
        # An unready pod is not counted healthy: evicting it costs the budget nothing.
        if policy == "AlwaysAllow":
            return None
        if st.get("currentHealthy", 0) >= st.get("desiredHealthy", 0) > 0:
            return None
    name = pdb["metadata"]["name"]
    if int(st.get("observedGeneration", 0)) < int(pdb["metadata"].get("generation", 1)):
        raise _refused(f"The disruption budget {name} is still being processed by the server.", 10)
    allowed = int(st.get("disruptionsAllowed", 0))
    if allowed < 0:
        raise ApiError(
            "Forbidden",
            # Upstream names the resource in the singular here.
            f'poddisruptionbudget.policy "{name}" is forbidden: pdb disruptions allowed is '
            "negative",
            {"name": name, "group": "policy", "kind": "poddisruptionbudget"},
        )
    if allowed == 0:
        raise _refused(_denied_message(pdb))
    new = dict(st, disruptionsAllowed=allowed - 1)
    new["disruptedPods"] = dict(st.get("disruptedPods") or {})
    new["disruptedPods"][pod["metadata"]["name"]] = _stamp(_now())
    if allowed - 1 == 0:
        generation = int(st.get("observedGeneration", 0))
        new["conditions"] = _condition(st, "False", "InsufficientPods", "", generation)
    return new
