"""Field ownership: metadata.managedFields and server-side apply.

The apiserver's field manager (k8s.io/apimachinery pkg/util/managedfields/internal at
v0.36.3) over structured-merge-diff's updater (merge/update.go at v6.4.2): every
manager owns a set of field paths (fieldpaths.py); an update takes the paths it
changes, an applier owns exactly the paths of its configuration, and an applier that
changes a path somebody else owns gets a conflict.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .fieldpaths import (
    Comparison,
    Path,
    check_config,
    compare,
    decode,
    dumps,
    encode,
    ensure_named,
    merge,
    nodes,
    path_string,
    remove,
    to_set,
    without_prefixes,
)

Obj = dict[str, Any]
PathSet = frozenset[Path]


APPLY, UPDATE = "Apply", "Update"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# managedfields/internal: skipnonapplied.go, capmanagers.go, buildmanagerinfo.go.
BEFORE_FIRST_APPLY = "before-first-apply"
ANCIENT_CHANGES = "ancient-changes"
MAX_UPDATE_MANAGERS = 10
MAX_MANAGER_LENGTH = 128  # apis/meta/v1/validation FieldManagerMaxLength

# stripmeta.go: never owned by anybody.
_STRIPPED: PathSet = frozenset(
    {("f:apiVersion",), ("f:kind",), ("f:metadata",)}
    | {
        ("f:metadata", f"f:{name}")
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    }
)


# -- managers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Writer:
    """Who writes: the manager name and the subresource written through."""

    manager: str
    subresource: str = ""


@dataclass(frozen=True, order=True)
class ManagerKey:
    """buildmanagerinfo.go: appliers are one manager whatever version they apply."""

    manager: str
    operation: str
    api_version: str  # "" for appliers
    subresource: str

    def identifier(self) -> str:
        """BuildManagerIdentifier's JSON, which conflicts and capping sort by."""
        entry = {"manager": self.manager, "operation": self.operation}
        if self.api_version:
            entry["apiVersion"] = self.api_version
        if self.subresource:
            entry["subresource"] = self.subresource
        return json.dumps(entry, separators=(",", ":"))

    def printed(self) -> str:
        """conflict.go printManager (identifiers never carry a time)."""
        text = json.dumps(self.manager, ensure_ascii=False)  # %q keeps printable runes
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource, ensure_ascii=False)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text


@dataclass
class Owned:
    paths: set[Path]
    api_version: str
    time: str | None = None


Managers = dict[ManagerKey, Owned]


def key_for(writer: Writer, operation: str, api_version: str) -> ManagerKey:
    manager = writer.manager or "unknown"
    return ManagerKey(
        manager, operation, api_version if operation == UPDATE else "", writer.subresource
    )


def decode_entries(entries: Any) -> Managers:
    """managedfields.go DecodeManagedFields; ValueError for an entry it refuses."""
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    managers: Managers = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"managed fields entry {i} is not an object")
        operation = entry.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ValueError("operation must be `Apply` or `Update`")
        if not entry.get("apiVersion"):
            raise ValueError("apiVersion must not be empty")
        if entry.get("fieldsType") != "FieldsV1":
            raise ValueError(f"invalid fieldsType in managed fields entry {i}")
        key = ManagerKey(
            str(entry.get("manager") or ""),
            operation,
            str(entry["apiVersion"]) if operation == UPDATE else "",
            str(entry.get("subresource") or ""),
        )
        try:
            paths = decode(entry.get("fieldsV1") or {})
        except (ValueError, TypeError) as exc:
            raise ValueError(f"error decoding set: {exc}") from None
        managers[key] = Owned(paths, str(entry["apiVersion"]), entry.get("time"))
    return managers


def encode_entries(managers: Managers) -> list[Obj]:
    """managedfields.go encodeManagedFields, sorted as sortEncodedManagedFields."""

    def order(item: tuple[ManagerKey, Owned]) -> tuple[str, float, str, str, str]:
        key, owned = item
        seconds = _seconds(owned.time)
        return (key.operation, seconds, key.manager, owned.api_version, key.subresource)

    out = []
    for key, owned in sorted(managers.items(), key=order):
        entry: Obj = {"manager": key.manager, "operation": key.operation}
        entry["apiVersion"] = owned.api_version
        if owned.time:
            entry["time"] = owned.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = encode(owned.paths)
        if key.subresource:
            entry["subresource"] = key.subresource
        out.append(entry)
    return out


def _seconds(time: str | None) -> float:
    if not time:
        return 0
    try:
        return dt.datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_reset(entries: Any) -> bool:
    """fieldmanager.go isResetManagedFields: [] or [{}] clears managedFields."""
    return isinstance(entries, list) and (entries == [] or entries == [{}])


def manager_from_user_agent(user_agent: str) -> str:
    """prefixFromUserAgent (k8s.io/apiserver pkg/endpoints/handlers/create.go at
    v0.36.3): up to the first "/", printable characters only, at most
    FieldManagerMaxLength bytes."""
    out = ""
    for char in user_agent.split("/")[0]:
        if not char.isprintable():
            continue
        if len((out + char).encode()) > MAX_MANAGER_LENGTH:
            break
        out += char
    return out


# -- the updater ---------------------------------------------------------------------


def _subtract(managers: Managers, skip: ManagerKey | None, cmp: Comparison) -> Managers:
    """SMD Updater.update with force: others lose what changed and what is gone."""
    changed = cmp.modified | cmp.added
    out: Managers = {}
    for key, owned in managers.items():
        if key == skip:
            out[key] = owned
            continue
        kept = owned.paths - changed - cmp.removed
        if kept:
            out[key] = Owned(kept, owned.api_version, owned.time)
    return out


def _conflicts(
    managers: Managers, skip: ManagerKey, cmp: Comparison
) -> list[tuple[ManagerKey, Path]]:
    changed = cmp.modified | cmp.added
    found: list[tuple[ManagerKey, Path]] = []
    for key, owned in managers.items():
        if key != skip:
            found.extend((key, p) for p in owned.paths & changed)
    return sorted(found, key=lambda c: (c[0].identifier(), c[1]))


def _cap(managers: Managers) -> Managers:
    """capmanagers.go: past ten update managers the oldest are merged, per version,
    into one "ancient-changes" manager."""
    updaters = [k for k in managers if k.operation == UPDATE]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return managers
    updaters.sort(key=lambda k: (int(_seconds(managers[k].time)), k.identifier()))
    out = dict(managers)
    first_of_version: dict[str, ManagerKey] = {}
    length = len(updaters)
    for key in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        owned = out[key]
        version = owned.api_version
        bucket = ManagerKey(ANCIENT_CHANGES, UPDATE, version, "")
        if version not in first_of_version:
            first_of_version[version] = key
            continue
        if bucket not in out:
            out[bucket] = out.pop(first_of_version[version])
        out[bucket] = Owned(out[bucket].paths | owned.paths, version, owned.time)
        del out[key]
        length -= 1
    return out


def _strip(paths: set[Path]) -> set[Path]:
    return paths - _STRIPPED


def _plain(obj: Any) -> Any:
    """The object as the field manager sees it: without managedFields (nulls stay,
    the comparisons read them as unset)."""
    if not isinstance(obj, dict):
        return {}
    out = copy.deepcopy(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return out


def track_update(
    live: Obj | None,
    new: Obj,
    writer: Writer,
    api_version: str,
    ignored: Iterable[Path] = (),
) -> list[Obj] | None:
    """The managedFields of `new` after a create (`live` None) or a non-apply write.

    Follows FieldManager.Update: managedFields sent with the object are used when
    they decode and are not empty ([] or [{}] clears them), otherwise the live
    object's are kept; a subresource write always keeps the live object's. None means
    the object has no managedFields (an existing object without them is not tracked
    until it is applied to, as skipnonapplied.go decides).
    """
    live_entries = (live or {}).get("metadata", {}).get("managedFields")
    sent = new.get("metadata", {}).get("managedFields")
    managers = _live_or_sent(live_entries, sent, from_request=not writer.subresource)
    if live is not None and not managers:
        return None
    base = _plain(live) if live is not None else _empty_like(new)
    managers = update(managers, base, _plain(new), writer, api_version, ignored)
    return encode_entries(managers) or None


def _live_or_sent(live_entries: Any, sent: Any, from_request: bool) -> Managers:
    if from_request:
        if is_reset(sent):
            return {}
        try:
            managers = decode_entries(sent) if sent is not None else {}
        except ValueError:
            managers = {}
        if managers:
            return managers
    try:
        return decode_entries(live_entries) if live_entries is not None else {}
    except ValueError:
        return {}


# What a new, empty Go object already holds (structuredmerge.go compares a create with
# one): struct fields that are not pointers, down the usual kinds, and slices without
# omitempty (PodSpec.containers, as null). A create does not "add" these nodes, so
# they carry no "." in FieldsV1.
_ZERO_OBJECTS = {
    ("metadata",),
    ("spec",),
    ("status",),
    ("spec", "template"),
    ("spec", "template", "metadata"),
    ("spec", "template", "spec"),
    ("spec", "strategy"),
    ("spec", "updateStrategy"),
    ("spec", "jobTemplate"),
    ("spec", "jobTemplate", "metadata"),
    ("spec", "jobTemplate", "spec"),
    ("spec", "jobTemplate", "spec", "template"),
    ("spec", "jobTemplate", "spec", "template", "metadata"),
    ("spec", "jobTemplate", "spec", "template", "spec"),
    ("spec", "resources"),
    ("status", "loadBalancer"),
    ("status", "daemonEndpoints"),
    ("status", "daemonEndpoints", "kubeletEndpoint"),
    ("status", "nodeInfo"),
    ("source",),
    ("involvedObject",),
}
_ZERO_LISTS = {
    ("spec", "containers"),
    ("spec", "template", "spec", "containers"),
    ("spec", "jobTemplate", "spec", "template", "spec", "containers"),
}


def _empty_like(new: Obj, names: tuple[str, ...] = ()) -> Obj:
    out: Obj = {}
    for key, value in new.items():
        at = (*names, key)
        if at in _ZERO_OBJECTS and isinstance(value, dict):
            out[key] = _empty_like(value, at)
        elif at in _ZERO_LISTS and isinstance(value, list):
            out[key] = []
    return out


def update(
    managers: Managers,
    live: Obj,
    new: Obj,
    writer: Writer,
    api_version: str,
    ignored: Iterable[Path] = (),
) -> Managers:
    """managedfieldsupdater.go over SMD Updater.Update: the writer takes every path it
    added or changed from whoever owned it; removed paths leave every manager."""
    cmp = compare(live, new).excluding(ignored)
    managers = _subtract(managers, None, cmp)
    taken = _strip(cmp.added | cmp.modified)
    if taken:
        key = key_for(writer, UPDATE, api_version)
        previous = managers.get(key)
        paths = taken | (previous.paths if previous else set())
        managers[key] = Owned(paths, api_version, _now())
    return _cap(managers)


@dataclass
class Applied:
    obj: Obj  # the object to store (defaulting still to come)
    entries: list[Obj] | None
    changed: bool


def conflict_error(conflicts: list[tuple[ManagerKey, Path]]) -> ApiError:
    """conflict.go NewConflictError, a 409 with FieldManagerConflict causes."""
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {key.printed()}",
            "field": path_string(path),
        }
        for key, path in conflicts
    ]
    if len(conflicts) == 1:
        key, path = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {key.printed()}: {path_string(path)}"
        )
    else:
        lines: list[str] = []
        current: ManagerKey | None = None
        for key, path in conflicts:
            if key != current:
                lines.append(f"conflicts with {key.printed()}:")
                current = key
            lines.append(f"- {path_string(path)}")
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError("Conflict", message, {"causes": causes})


def apply(
    live: Obj | None,
    config: Obj,
    writer: Writer,
    kind: str,
    api_version: str,
    force: bool,
    ignored: Iterable[Path] = (),
) -> Applied:
    """Server-side apply of `config` onto `live` (None: the object does not exist)."""
    ignored = set(ignored)
    config_version, config_kind = config.get("apiVersion"), config.get("kind")
    if config_kind != kind or config_version != api_version:
        # versioncheck.go checks the kind, structuredmerge.go the version.
        group, _, version = (config_version or "").rpartition("/")
        if config_kind != kind:
            raise ApiError(
                "BadRequest", f"invalid object type: {group}/{version}, Kind={config_kind or ''}"
            )
        raise ApiError(
            "BadRequest",
            "Incorrect version specified in apply patch. Specified patch version: "
            f"{config_version or ''}, expected: {api_version}",
        )
    if "managedFields" in (config.get("metadata") or {}):
        raise ApiError("BadRequest", "metadata.managedFields must be nil")
    meta = config.get("metadata") or {}
    group = api_version if "/" in api_version else f"/{api_version}"
    where = f"{meta.get('namespace', '')}/{meta.get('name', '')}; {group}, Kind={kind}"
    check_config(config, where)
    meta_entries = (live or {}).get("metadata", {}).get("managedFields")
    try:
        managers = decode_entries(meta_entries) if meta_entries is not None else {}
    except ValueError as exc:
        raise ApiError("InternalError", f"failed to decode managed fields: {exc}") from None
    base = _plain(live) if live is not None else {}
    if not managers and live is not None:
        # skipnonapplied.go: an object nobody manages yet is owned, before the first
        # apply, by a manager of everything it holds.
        managers = update(
            {}, _empty_like(base), base, Writer(BEFORE_FIRST_APPLY), api_version, ignored
        )
    key = key_for(writer, APPLY, api_version)
    try:
        return _apply(base, config, managers, key, api_version, force, ignored)
    except _Conflicts as err:
        if writer.manager != "kubectl" or force:
            raise conflict_error(err.found) from None
        # lastappliedmanager.go: kubectl's move from client-side apply may take the
        # fields whose live value is still what the last client-side apply set.
        allowed = _allowed_by_last_applied(base, api_version)
        rest = [c for c in err.found if c[1] not in allowed]
        if rest:
            raise conflict_error(rest) from None
        return _apply(base, config, managers, key, api_version, True, ignored)


class _Conflicts(Exception):
    def __init__(self, found: list[tuple[ManagerKey, Path]]) -> None:
        super().__init__("conflicts")
        self.found = found


def _apply(
    live: Obj,
    config: Obj,
    managers: Managers,
    key: ManagerKey,
    api_version: str,
    force: bool,
    ignored: set[Path],
) -> Applied:
    """SMD Updater.Apply: merge, own the configuration's paths, prune what this
    applier stopped applying, then settle with the other managers."""
    managers = dict(managers)
    merged = merge(live, config)
    last = managers.get(key)
    owned = without_prefixes(to_set(config), ignored)
    managers[key] = Owned(owned, api_version, last.time if last else None)
    new = _prune(merged, managers, last.paths if last else set())
    cmp = compare(live, new).excluding(ignored)
    found = _conflicts(managers, key, cmp)
    if found and not force:
        raise _Conflicts(found)
    managers = _subtract(managers, key, cmp)
    mine = _strip(managers[key].paths)
    changed = new != live
    if mine:
        managers[key] = Owned(mine, api_version, _now() if changed else managers[key].time)
    else:
        del managers[key]
    if key.manager == "kubectl":
        _sync_last_applied(new, config)
    return Applied(new, encode_entries(managers) or None, changed)


def _prune(merged: Obj, managers: Managers, last: set[Path]) -> Obj:
    """SMD Updater.prune: remove what the applier owned last time, does not apply now
    and nobody else owns (addBackOwnedItems, then addBackDanglingItems)."""
    if not last:
        return merged
    last_all = ensure_named(last)
    pruned = remove(merged, last_all)
    owned: set[Path] = set()
    for item in managers.values():
        owned |= item.paths
    owned = ensure_named(owned)
    everything = nodes(merged)
    pruned = remove(merged, everything - (nodes(pruned) | owned))
    result: Obj = remove(merged, (everything - nodes(pruned)) & last_all)
    return result


def _allowed_by_last_applied(live: Obj, api_version: str) -> set[Path]:
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    try:
        last = json.loads(annotations.get(LAST_APPLIED) or "")
    except ValueError:
        return set()
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return set()
    cmp = compare(_plain(last), live)
    return to_set(_plain(last)) - cmp.modified - cmp.added - cmp.removed


def _sync_last_applied(obj: Obj, config: Obj) -> None:
    """lastappliedupdater.go: kubectl's apply keeps an existing client-side
    annotation in step with what it applied."""
    annotations = obj.get("metadata", {}).get("annotations") or {}
    if not annotations.get(LAST_APPLIED):
        return
    applied = copy.deepcopy(config)
    kept = (applied.get("metadata") or {}).get("annotations")
    if isinstance(kept, dict):
        kept.pop(LAST_APPLIED, None)  # an emptied map stays, as Unstructured keeps it
    annotations[LAST_APPLIED] = dumps(applied) + "\n"
