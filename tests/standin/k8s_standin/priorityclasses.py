"""scheduling.k8s.io/v1 PriorityClasses: defaults, validation, the Priority admission
plugin's one-default rule, and the two system classes.

Facts from kubernetes v1.36: pkg/apis/scheduling/v1 (SetDefaults_PriorityClass, the
system classes), pkg/apis/scheduling/validation (ValidatePriorityClass and its update),
plugin/pkg/admission/priority (one global default) and pkg/registry/scheduling/
priorityclass/storage (system classes cannot be deleted). Pods' `priorityClassName` is
not resolved into `spec.priority` here (the plugin's pod side is not modelled).
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError, Causes

Obj = dict[str, Any]

PREFIX = "system-"
#: The highest value a class outside the system prefix may have.
HIGHEST_USER_DEFINABLE = 1_000_000_000
_CRITICAL = 2 * HIGHEST_USER_DEFINABLE
#: Created at start by the apiserver (scheduling/bootstrap-system-priority-classes).
SYSTEM_CLASSES: tuple[Obj, ...] = (
    {
        "metadata": {"name": "system-node-critical"},
        "value": _CRITICAL + 1000,
        "description": "Used for system critical pods that must not be moved from their "
        "current node.",
    },
    {
        "metadata": {"name": "system-cluster-critical"},
        "value": _CRITICAL,
        "description": "Used for system critical pods that must run in the cluster, but "
        "can be moved to another node if necessary.",
    },
)
_POLICIES = ["Never", "PreemptLowerPriority"]


def default(obj: Obj) -> None:
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")


def _system_mismatch(obj: Obj) -> str | None:
    """Why a `system-` class is not one of the system classes (None when it is one)."""
    name = obj["metadata"].get("name", "")
    for known in SYSTEM_CLASSES:
        if known["metadata"]["name"] == name:
            if obj.get("value", 0) != known["value"]:
                return f"value of {name} PriorityClass must be {known['value']}"
            if obj.get("globalDefault", False):
                return f"globalDefault of {name} PriorityClass must be false"
            return None
    return f"{name} is not a known system priority class"


def validate(obj: Obj, old: Obj | None, causes: Causes) -> None:
    name = obj["metadata"].get("name", "")
    value = obj.get("value", 0)
    if name.startswith(PREFIX):
        why = _system_mismatch(obj)
        if why is not None:
            causes.forbidden(
                "metadata.name",
                f"priority class names with '{PREFIX}' prefix are reserved for system use "
                f"only. error: {why}",
            )
    elif isinstance(value, int) and value > HIGHEST_USER_DEFINABLE:
        causes.forbidden(
            "value",
            f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE}",
        )
    policy = obj.get("preemptionPolicy")
    if policy not in _POLICIES:
        causes.unsupported("preemptionPolicy", policy, _POLICIES)
    if old is not None:
        if value != old.get("value", 0):
            causes.forbidden("value", "may not be changed in an update.")
        if policy != old.get("preemptionPolicy"):
            causes.invalid("preemptionPolicy", policy, "field is immutable")


def admit(obj: Obj, old: Obj | None, existing: list[Obj]) -> None:
    """The Priority plugin: a second global default is forbidden, on create or update."""
    if not obj.get("globalDefault"):
        return
    name = obj["metadata"].get("name", "")
    defaults = [pc for pc in existing if pc.get("globalDefault")]
    if not defaults:
        return
    # With several (a race upstream allows), the plugin names the lowest-valued one.
    first = min(defaults, key=lambda pc: pc.get("value", 0))["metadata"]["name"]
    if old is None or first != name:
        raise ApiError(
            "Forbidden",
            f'priorityclasses.scheduling.k8s.io "{name}" is forbidden: PriorityClass '
            f"{first} is already marked as default. Only one default can exist",
            {"name": name, "group": "scheduling.k8s.io", "kind": "priorityclasses"},
        )


def check_delete(name: str) -> None:
    if any(known["metadata"]["name"] == name for known in SYSTEM_CLASSES):
        raise ApiError(
            "Forbidden",
            f'priorityclasses.scheduling.k8s.io "{name}" is forbidden: this is a system '
            "priority class and cannot be deleted",
            {"name": name, "group": "scheduling.k8s.io", "kind": "priorityclasses"},
        )
