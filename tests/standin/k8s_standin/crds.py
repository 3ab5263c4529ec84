"""CustomResourceDefinitions: what apiextensions-apiserver does with them.

A CRD's defaults, validation and status (the naming and establishing controllers'
conditions, set here at once instead of a moment later), the resources its served
versions add to the API, and the admission of custom objects (pruning and schema
validation, schema.py). Facts from kubernetes v1.36,
staging/src/k8s.io/apiextensions-apiserver: pkg/apis/apiextensions/v1/defaults.go,
pkg/apis/apiextensions/validation/validation.go, pkg/controller/status/naming_controller.go,
pkg/controller/establish/establishing_controller.go, pkg/registry/customresource/strategy.go,
pkg/registry/customresourcedefinition/etcd.go and pkg/apiserver/customresource_handler.go.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import fieldvalidation, resources, schema
from .errors import ApiError, Causes
from .resources import Resource

Obj = dict[str, Any]
GROUP = "apiextensions.k8s.io"
CRDS = resources.get(GROUP, "v1", "customresourcedefinitions")
RKEY = f"{GROUP}/customresourcedefinitions"
#: Added by the CRD's DELETE (customresourcedefinition/etcd.go); the finalizing
#: controller removes it once every custom object is gone.
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


@dataclass(frozen=True)
class Served:
    """One served version of a CRD, as the handler for its resource needs it."""

    crd: str
    schema: Obj | None
    status: bool
    columns: tuple[Obj, ...]
    terminating: bool


_served: dict[tuple[str, str, str], Served] = {}
_lock = threading.Lock()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_VERSION = re.compile(r"^v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key: GA before beta before alpha, higher numbers first, then any other
    name alphabetically (apimachinery's CompareKubeAwareVersionStrings)."""
    found = _VERSION.match(version)
    if found is None:
        return (3, 0, 0, version)
    major, stage, minor = found.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), "")


def _sorted_versions(spec: Obj) -> list[Obj]:
    versions = [v for v in spec.get("versions") or [] if isinstance(v, dict)]
    return sorted(versions, key=lambda v: version_priority(str(v.get("name", ""))))


def storage_version(crd: Obj) -> str:
    for v in crd.get("spec", {}).get("versions") or []:
        if v.get("storage"):
            return str(v.get("name", ""))
    return ""


# -- the CRD object itself --------------------------------------------------------------
def default(crd: Obj) -> None:
    """SetDefaults_CustomResourceDefinitionSpec and friends (v1/defaults.go)."""
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if names.get("kind") and not names.get("singular"):
        names["singular"] = str(names["kind"]).lower()
    if names.get("kind") and not names.get("listKind"):
        names["listKind"] = f"{names['kind']}List"
    spec.setdefault("conversion", {"strategy": "None"})
    for version in spec.get("versions") or []:
        if isinstance(version, dict):
            version.setdefault("served", True)
            version.setdefault("storage", False)


def validate(crd: Obj, old: Obj | None, causes: Causes) -> None:
    """The checks of ValidateCustomResourceDefinition that clients meet most."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    name = crd.get("metadata", {}).get("name", "")
    if not group:
        causes.required("spec.group")
    elif "." not in group:
        causes.invalid("spec.group", group, "should be a domain with at least one dot")
    for key in ("plural", "kind"):
        if not names.get(key):
            causes.required(f"spec.names.{key}")
    if names.get("plural") and group and name != f"{names['plural']}.{group}":
        causes.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        if scope:
            causes.unsupported("spec.scope", scope, ["Cluster", "Namespaced"])
        else:
            causes.required("spec.scope")
    versions = spec.get("versions") or []
    if not versions:
        causes.invalid(
            "spec.versions", [], "must have exactly one version marked as storage version"
        )
        return
    storage = [v for v in versions if v.get("storage")]
    if len(storage) != 1:
        causes.invalid(
            "spec.versions",
            versions and "[...]",
            "must have exactly one version marked as storage version",
        )
    seen: set[str] = set()
    for i, version in enumerate(versions):
        vname = version.get("name") or ""
        if not vname:
            causes.required(f"spec.versions[{i}].name")
        elif vname in seen:
            causes.invalid(f"spec.versions[{i}].name", vname, "must appear only once")
        seen.add(vname)
        if not (version.get("schema") or {}).get("openAPIV3Schema"):
            causes.required(f"spec.versions[{i}].schema.openAPIV3Schema")
    if old is not None:
        old_spec = old.get("spec") or {}
        for key in ("group",):
            if old_spec.get(key) != spec.get(key):
                causes.invalid(f"spec.{key}", spec.get(key), "field is immutable")
        stored = (old.get("status") or {}).get("storedVersions") or []
        for kept in stored:
            if kept not in seen:
                causes.invalid(
                    "status.storedVersions[0]",
                    kept,
                    "must appear in spec.versions",
                )


def _condition(kind: str, status: str, reason: str, message: str, old: Obj | None) -> Obj:
    """A condition keeping its lastTransitionTime while its status stays."""
    previous = next(
        (c for c in (old or {}).get("status", {}).get("conditions") or [] if c.get("type") == kind),
        None,
    )
    since = (
        previous["lastTransitionTime"]
        if previous and previous.get("status") == status and previous.get("lastTransitionTime")
        else _now()
    )
    return {
        "type": kind,
        "status": status,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    }


def _conflicts(crd: Obj, others: Iterable[Obj]) -> str:
    """The naming controller's check: another CRD of the group already uses a name."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    mine = {names.get("plural"), names.get("singular"), *(names.get("shortNames") or [])}
    mine.discard(None)
    for other in others:
        if other["metadata"]["name"] == crd["metadata"]["name"]:
            continue
        ospec = other.get("spec") or {}
        if ospec.get("group") != spec.get("group"):
            continue
        accepted = (other.get("status") or {}).get("acceptedNames") or {}
        if accepted.get("plural") in mine:
            return f'"{accepted["plural"]}" is already in use'
        if accepted.get("singular") in mine:
            return f'"{accepted["singular"]}" is already in use'
        for short in accepted.get("shortNames") or []:
            if short in mine:
                return f'"{short}" is already in use'
        if accepted.get("kind") == names.get("kind"):
            return f'"{names.get("kind")}" is already in use'
    return ""


def set_status(crd: Obj, old: Obj | None, others: Iterable[Obj]) -> None:
    """acceptedNames, NamesAccepted, Established and storedVersions, as the naming and
    establishing controllers leave them. Names stay those accepted before while a
    conflict lasts; a new CRD whose names conflict is not established."""
    status = crd.setdefault("status", {})
    conflict = _conflicts(crd, others)
    names = dict((crd.get("spec") or {}).get("names") or {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") == "Terminating"]
    if conflict:
        status.setdefault("acceptedNames", {"plural": "", "kind": ""})
        accepted = _condition("NamesAccepted", "False", "NameConflict", conflict, old)
    else:
        status["acceptedNames"] = names
        accepted = _condition("NamesAccepted", "True", "NoConflicts", "no conflicts found", old)
    was_established = any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in (old or {}).get("status", {}).get("conditions") or []
    )
    if conflict and not was_established:
        established = _condition(
            "Established", "False", "NotAccepted", "not all names are accepted", old
        )
    else:
        established = _condition(
            "Established",
            "True",
            "InitialNamesAccepted",
            "the initial names have been accepted",
            old,
        )
    status["conditions"] = [accepted, established, *conditions]
    stored = list(status.get("storedVersions") or [])
    storage = storage_version(crd)
    if storage and storage not in stored:
        stored.append(storage)
    status["storedVersions"] = stored


def mark_terminating(crd: Obj) -> None:
    """What the CRD's first DELETE writes before the finalizing controller runs."""
    if crd["metadata"].get("deletionTimestamp"):
        return
    finalizers = crd["metadata"].setdefault("finalizers", [])
    if CLEANUP_FINALIZER not in finalizers:
        finalizers.append(CLEANUP_FINALIZER)
    conditions = [
        c
        for c in crd.setdefault("status", {}).get("conditions") or []
        if c.get("type") != "Terminating"
    ]
    conditions.append(
        {
            "type": "Terminating",
            "status": "True",
            "lastTransitionTime": _now(),
            "reason": "InstanceDeletionInProgress",
            "message": "CustomResource deletion is in progress",
        }
    )
    crd["status"]["conditions"] = conditions


# -- the resources CRDs serve ------------------------------------------------------------
def _established(crd: Obj) -> bool:
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in (crd.get("status") or {}).get("conditions") or []
    )


def sync(crds: Iterable[Obj]) -> None:
    """Serve the versions of every established CRD (and nothing of the others)."""
    served: dict[tuple[str, str, str], Served] = {}
    table: list[Resource] = []
    for crd in sorted(crds, key=lambda c: str(c["metadata"]["name"])):
        if not _established(crd):
            continue
        spec = crd.get("spec") or {}
        accepted = (crd.get("status") or {}).get("acceptedNames") or {}
        group = str(spec.get("group", ""))
        terminating = bool(crd["metadata"].get("deletionTimestamp"))
        for version in _sorted_versions(spec):
            if not version.get("served"):
                continue
            subresources = version.get("subresources") or {}
            res = Resource(
                group,
                str(version["name"]),
                str(accepted.get("kind", "")),
                str(accepted.get("plural", "")),
                spec.get("scope") == "Namespaced",
                tuple(accepted.get("shortNames") or ()),
                ("status",) if "status" in subresources else (),
                tuple(accepted.get("categories") or ()),
                custom=True,
            )
            table.append(res)
            served[(group, res.plural, res.version)] = Served(
                crd["metadata"]["name"],
                (version.get("schema") or {}).get("openAPIV3Schema"),
                "status" in subresources,
                tuple(version.get("additionalPrinterColumns") or ()),
                terminating,
            )
    with _lock:
        _served.clear()
        _served.update(served)
        resources.set_custom(tuple(table))


def served(res: Resource) -> Served | None:
    return _served.get((res.group, res.plural, res.version))


def resources_of(crd: Obj) -> list[Resource]:
    """The resources (one per served version) a CRD adds, storage version first."""
    name = crd["metadata"]["name"]
    storage = storage_version(crd)
    found = [
        r
        for r in resources.served()
        if r.custom and (info := served(r)) is not None and info.crd == name
    ]
    return sorted(found, key=lambda r: r.version != storage)


# -- custom objects ---------------------------------------------------------------------
def admit(res: Resource, obj: Obj, old: Obj | None) -> None:
    """The custom resource strategy: status dropped on create where a status
    subresource exists, unknown fields pruned, defaults applied, then the schema
    validated."""
    info = served(res)
    if info is None:
        raise ApiError("NotFound", "the server could not find the requested resource", {}, 404)
    if old is None and info.terminating:
        raise ApiError(
            "MethodNotAllowed",
            "create not allowed while custom resource definition is terminating",
            {},
            405,
        )
    if old is None and info.status:
        obj.pop("status", None)
    fieldvalidation.unknown_fields(res.kind, res.version, schema.unknown(obj, info.schema))
    pruned = schema.prune(obj, info.schema)
    for key in [k for k in obj if k not in pruned]:
        del obj[key]
    obj.update(pruned)
    # Upstream's decoder drops the nulls nobody may hold, and its defaulter then fills
    # the schema's defaults in, both before validation.
    schema.drop_nulls(obj, info.schema)
    schema.default(obj, info.schema)
    causes = Causes()
    causes.items.extend(schema.validate(obj, info.schema))
    causes.raise_if_any(res.kind, res.group, obj.get("metadata", {}).get("name", ""))


def generation_changed(res: Resource, obj: Obj, old: Obj) -> bool:
    """Custom objects count a new generation for any change outside metadata (and
    outside status where the status subresource exists)."""
    skip = {"metadata", "apiVersion", "kind"} | ({"status"} & set(res.subresources))

    def body(o: Obj) -> Obj:
        return {k: v for k, v in o.items() if k not in skip}

    return body(obj) != body(old)
