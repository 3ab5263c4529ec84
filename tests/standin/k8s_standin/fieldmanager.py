"""Field ownership: metadata.managedFields and server-side apply.

The model is the one of sigs.k8s.io/structured-merge-diff (SMD, merge/update.go at
v6.4.2) and of the apiserver's field manager (k8s.io/apimachinery
pkg/util/managedfields/internal at v0.36.3): every manager owns a set of field paths;
an update takes the paths it changes, an applier owns exactly the paths of its
configuration, and an applier that changes a path somebody else owns gets a conflict.
Upstream derives the shape of an object (which lists are associative, which maps are
atomic) from the OpenAPI schemas; here tables by field name stand in for them
(`_LIST_KEYS`, `_SET_LISTS`, `_ATOMIC`): other objects are maps of fields and other
lists are atomic.

A path is a tuple of FieldsV1 path elements kept in their encoded form: `f:<name>`,
`k:<json of the key fields>`, `v:<json of the value>`. A set of paths holds members
only; a node whose path is not a member is owned through its children.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError
from .patch import MERGE_KEYS

Obj = dict[str, Any]
Path = tuple[str, ...]
PathSet = frozenset[Path]

APPLY, UPDATE = "Apply", "Update"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# managedfields/internal: skipnonapplied.go, capmanagers.go, buildmanagerinfo.go.
BEFORE_FIRST_APPLY = "before-first-apply"
ANCIENT_CHANGES = "ancient-changes"
MAX_UPDATE_MANAGERS = 10
MAX_MANAGER_LENGTH = 128  # apis/meta/v1/validation FieldManagerMaxLength

# listType=map and its listMapKeys (k8s.io/api core/v1, apps/v1 types.go at v0.36.3):
# the patch merge keys, except where upstream keys on more than one field.
_LIST_KEYS: dict[str, tuple[str, ...]] = {
    **{name: (key,) for name, key in MERGE_KEYS.items()},
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
    "podIPs": ("ip",),
    "schedulingGates": ("name",),
    "secrets": ("name",),
    "claims": ("name",),
}
# Container ports key on containerPort+protocol, Service ports on port+protocol; the
# schema defaults protocol to TCP, which SMD uses for a key field an item leaves out.
_KEY_DEFAULTS = {"protocol": "TCP"}
# listType=set: ObjectMeta.finalizers (NamespaceSpec.finalizers is atomic), podCIDRs.
_SET_LISTS = {("f:metadata", "f:finalizers"), ("f:spec", "f:podCIDRs")}
# structType=atomic (LabelSelector, the key selectors, ObjectReference) and
# mapType=atomic (nodeSelector, Service spec.selector): owned as one value.
_ATOMIC = {
    "selector",
    "podSelector",
    "namespaceSelector",
    "labelSelector",
    "nodeSelector",
    "configMapKeyRef",
    "secretKeyRef",
    "fieldRef",
    "resourceFieldRef",
    "involvedObject",
    "targetRef",
    "scopeSelector",
}
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


# -- the shape of a value ------------------------------------------------------------


def _name(path: Path) -> str:
    """The field name a value sits under ("" for list items and the root)."""
    return path[-1][2:] if path and path[-1].startswith("f:") else ""


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _keys_of(path: Path, items: list[Any]) -> tuple[str, ...] | None:
    name = _name(path)
    if name == "ports":
        return (
            ("containerPort", "protocol")
            if any(isinstance(i, dict) and "containerPort" in i for i in items)
            else ("port", "protocol")
        )
    return _LIST_KEYS.get(name)


def _item_element(keys: tuple[str, ...], item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    key: Obj = {}
    for name in keys:
        value = item.get(name, _KEY_DEFAULTS.get(name))
        if value is None:
            return None
        key[name] = value
    return "k:" + _dumps(key)


def _kind(path: Path, value: Any) -> str:
    """map, assoc, set or leaf."""
    if isinstance(value, dict):
        atomic_item = len(path) >= 2 and path[-2] == "f:ownerReferences"
        return "leaf" if _name(path) in _ATOMIC or atomic_item else "map"
    if isinstance(value, list):
        if path[-2:] in _SET_LISTS and all(not isinstance(v, (dict, list)) for v in value):
            return "set"
        keys = _keys_of(path, value)
        if keys and all(_item_element(keys, item) for item in value):
            return "assoc"
    return "leaf"


def _children(path: Path, value: Any, kind: str) -> Iterator[tuple[str, Any]]:
    """(path element, child value) of a map, associative list or set."""
    if kind == "map":
        for key, child in value.items():
            yield "f:" + key, child
    elif kind == "assoc":
        keys = _keys_of(path, value)
        assert keys is not None
        for item in value:
            element = _item_element(keys, item)
            assert element is not None
            yield element, item
    elif kind == "set":
        for item in value:
            yield "v:" + _dumps(item), item


class Shape(ApiError):
    """An applied configuration that does not fit the object's list types."""


def check_config(path: Path, value: Any) -> None:
    """SMD refuses an associative list item without its key fields; so does apply."""
    if isinstance(value, dict) and _kind(path, value) == "map":
        for key, child in value.items():
            check_config((*path, "f:" + key), child)
    elif isinstance(value, list) and _keys_of(path, value) and _kind(path, value) == "leaf":
        keys = _keys_of(path, value) or ()
        for i, item in enumerate(value):
            if _item_element(keys, item) is None:
                missing = next(k for k in keys if not isinstance(item, dict) or k not in item)
                raise Shape(
                    "InternalError",
                    f"failed to create typed patch object: {path_string(path)}: element {i}: "
                    f'associative list with keys has an element that omits key field "{missing}"'
                    " (and doesn't have default value)",
                )
    elif isinstance(value, list) and _kind(path, value) == "assoc":
        for element, item in _children(path, value, "assoc"):
            check_config((*path, element), item)


# -- field sets ----------------------------------------------------------------------


def to_set(value: Any, path: Path = ()) -> set[Path]:
    """The paths an applied configuration owns (SMD typed/tofieldset.go): leaves, list
    items, and maps that are empty or null."""
    out: set[Path] = set()
    _to_set(value, path, out)
    return out


def _to_set(value: Any, path: Path, out: set[Path]) -> None:
    kind = _kind(path, value)
    if kind == "leaf":
        out.add(path)
        return
    for element, child in _children(path, value, kind):
        sub = (*path, element)
        if child is None or (isinstance(child, dict) and not child):
            out.add(sub)
            continue
        _to_set(child, sub, out)
        if kind != "map":
            out.add(sub)  # a list item is a member as well as its fields' parent


def nodes(value: Any, path: Path = ()) -> set[Path]:
    """Every node of a value, the set EnsureNamedFieldsAreMembers makes of a full one."""
    out: set[Path] = set()
    _nodes(value, path, out)
    return out


def _nodes(value: Any, path: Path, out: set[Path]) -> None:
    if path:
        out.add(path)
    kind = _kind(path, value)
    if kind != "leaf":
        for element, child in _children(path, value, kind):
            if child is not None:
                _nodes(child, (*path, element), out)


def ensure_named(paths: Iterable[Path]) -> set[Path]:
    """Add every field-name prefix of the paths as a member (SMD fieldpath/set.go
    EnsureNamedFieldsAreMembers: struct fields, not list items, count as owned)."""
    out = set(paths)
    for path in list(out):
        for i in range(1, len(path)):
            if path[i - 1].startswith("f:"):
                out.add(path[:i])
    return out


def without_prefixes(paths: Iterable[Path], prefixes: Iterable[Path]) -> set[Path]:
    """The paths none of `prefixes` is a prefix of (a recursive exclusion)."""
    cut = set(prefixes)
    return {p for p in paths if not any(p[:i] in cut for i in range(1, len(p) + 1))}


@dataclass
class Comparison:
    added: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)

    def excluding(self, ignored: Iterable[Path]) -> Comparison:
        ignored = set(ignored)
        return Comparison(
            without_prefixes(self.added, ignored),
            without_prefixes(self.modified, ignored),
            without_prefixes(self.removed, ignored),
        )


def compare(old: Any, new: Any) -> Comparison:
    """SMD typed/compare.go: leaves that changed, and nodes only one side has."""
    result = Comparison()
    _compare(old, new, (), result)
    return result


def _compare(old: Any, new: Any, path: Path, out: Comparison) -> None:
    old_kind = _kind(path, old) if old is not None else ""
    new_kind = _kind(path, new) if new is not None else ""
    if old_kind and old_kind == new_kind and old_kind != "leaf":
        old_children = dict(_children(path, old, old_kind))
        new_children = dict(_children(path, new, new_kind))
        for element in {**old_children, **new_children}:
            _compare(old_children.get(element), new_children.get(element), (*path, element), out)
        return
    if old_kind == new_kind == "leaf":
        if old != new:
            out.modified.add(path)
        return
    if old_kind:
        out.removed |= nodes(old, path)
    if new_kind:
        out.added |= nodes(new, path)


# -- values --------------------------------------------------------------------------


def merge(live: Any, config: Any, path: Path = ()) -> Any:
    """SMD typed/merge.go: the configuration merged into the live value."""
    if live is None or config is None:
        return copy.deepcopy(config)
    kind = _kind(path, live)
    if kind != _kind(path, config) or kind == "leaf":
        return copy.deepcopy(config)
    if kind == "map":
        out = dict(live)
        for key, value in config.items():
            if value is None:
                out.pop(key, None)  # a null leaves the field unset, owned by the applier
            else:
                out[key] = merge(live.get(key), value, (*path, "f:" + key))
        return out
    return _merge_items(live, config, path, kind)


def _merge_items(live: list[Any], config: list[Any], path: Path, kind: str) -> list[Any]:
    """Live items keep their order; an item only the configuration has goes before the
    shared item it precedes there, as SMD's visitListItems orders them."""
    live_items = list(_children(path, live, kind))
    config_items = dict(_children(path, config, kind))
    pending: list[str] = []
    before: dict[str, list[str]] = {}
    live_elements = {e for e, _ in live_items}
    for element in config_items:
        if element in live_elements:
            before[element] = pending
            pending = []
        else:
            pending.append(element)
    out: list[Any] = []
    for element, item in live_items:
        for new in before.get(element, []):
            out.append(copy.deepcopy(config_items[new]))
        if element in config_items:
            out.append(merge(item, config_items[element], (*path, element)))
        else:
            out.append(item)
    out.extend(copy.deepcopy(config_items[e]) for e in pending)
    return out


def remove(value: Any, paths: set[Path], path: Path = ()) -> Any:
    """SMD typed/remove.go RemoveItems: drop every node whose path is in `paths`."""
    if not paths:
        return value
    prefixes = {p[:i] for p in paths for i in range(len(p))}
    return _remove(value, paths, prefixes, path)


def _remove(value: Any, paths: set[Path], prefixes: set[Path], path: Path) -> Any:
    if path not in prefixes:
        return value
    kind = _kind(path, value)
    if kind == "map":
        out: Obj = {}
        for key, child in value.items():
            sub = (*path, "f:" + key)
            if sub not in paths:
                out[key] = _remove(child, paths, prefixes, sub)
        return out
    if kind in ("assoc", "set"):
        return [
            _remove(item, paths, prefixes, (*path, element))
            for element, item in _children(path, value, kind)
            if (*path, element) not in paths
        ]
    return value


def _clean(value: Any) -> Any:
    """Nulls dropped, as a typed object has no null fields."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


# -- FieldsV1 ------------------------------------------------------------------------


def encode(paths: Iterable[Path]) -> Obj:
    """A set as FieldsV1: a tree of elements, "." marking a member with children."""
    root: Obj = {}
    members = set(paths)
    for path in sorted(members, key=len):
        node = root
        for element in path:
            node = node.setdefault(element, {})
    _mark(root, (), members)
    return _sorted(root)


def _mark(node: Obj, path: Path, members: set[Path]) -> None:
    for element, child in node.items():
        sub = (*path, element)
        if child:
            _mark(child, sub, members)
            if sub in members:
                child["."] = {}


def _sorted(node: Obj) -> Obj:
    # fieldpath/serialize.go writes "." first, then the elements in order.
    order = sorted(node, key=lambda e: (e != ".", e[:2] != "f:", e))
    return {e: _sorted(node[e]) for e in order}


def decode(fields: Any, path: Path = ()) -> set[Path]:
    if not isinstance(fields, dict):
        raise ValueError("fieldsV1 must be an object")
    out: set[Path] = set()
    for element, child in fields.items():
        if element == ".":
            if path:
                out.add(path)
            continue
        prefix, _, rest = element.partition(":")
        if prefix == "f" and rest:
            normal = element
        elif prefix in ("k", "v", "i"):
            normal = f"{prefix}:{_dumps(json.loads(rest))}"
        else:
            raise ValueError(f"unknown path element {element!r}")
        sub = (*path, normal)
        if not child:
            out.add(sub)
        else:
            out |= decode(child, sub)
    return out


def _scalar(value: Any) -> str:
    """SMD value.ToString."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ",".join(_scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={_scalar(v)}" for k, v in value.items())
    return str(value)


def path_string(path: Path) -> str:
    """SMD fieldpath Path.String: .spec.containers[name="web"].image"""
    out = []
    for element in path:
        prefix, rest = element[:2], element[2:]
        if prefix == "f:":
            out.append("." + rest)
        elif prefix == "k:":
            key = json.loads(rest)
            out.append("[" + ",".join(f"{k}={_scalar(v)}" for k, v in key.items()) + "]")
        elif prefix == "v:":
            out.append(f"[={_scalar(json.loads(rest))}]")
        else:
            out.append(f"[{rest}]")
    return "".join(out)


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
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
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
    """handlers/create.go prefixFromUserAgent: up to the first "/", printable
    characters only, at most FieldManagerMaxLength bytes."""
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
    found = []
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
    """The object as the field manager sees it: no managedFields, no nulls."""
    if not isinstance(obj, dict):
        return {}
    out = _clean(obj)
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


def _empty_like(new: Obj) -> Obj:
    """A create compares against a new, empty object; in Go its metadata, spec and
    status are there already (empty structs), so they are not "added" themselves."""
    return {k: {} for k in ("metadata", "spec", "status") if isinstance(new.get(k), dict)}


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
    check_config((), config)
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
    new = _clean(_prune(merged, managers, last.paths if last else set()))
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
    return remove(merged, (everything - nodes(pruned)) & last_all)


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
    annotations[LAST_APPLIED] = _dumps(applied) + "\n"
