"""Field paths and sets over JSON objects, as structured-merge-diff models them.

What sigs.k8s.io/structured-merge-diff (SMD, v6.4.2) does with typed values, done on
plain JSON: the set of paths a value holds, the comparison of two values, the merge of
an applied configuration and the removal of paths, and the FieldsV1 encoding of a set.
Upstream derives the shape of an object (which lists are associative, which maps are
atomic) from the OpenAPI schemas; here tables by field name stand in for them
(`_LIST_KEYS`, `_SET_LISTS`, `_ATOMIC`): other objects are maps of fields and other
lists are atomic.

A path is a tuple of FieldsV1 path elements kept in their encoded form: `f:<name>`,
`k:<json of the key fields>`, `v:<json of the value>`. A set of paths holds members
only; a node whose path is not a member is owned through its children.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError
from .patch import MERGE_KEYS

Obj = dict[str, Any]
Path = tuple[str, ...]

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

# -- the shape of a value ------------------------------------------------------------


def _name(path: Path) -> str:
    """The field name a value sits under ("" for list items and the root)."""
    return path[-1][2:] if path and path[-1].startswith("f:") else ""


def dumps(value: Any) -> str:
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
    return "k:" + dumps(key)


def _kind(path: Path, value: Any) -> str:
    """map, assoc, set or leaf."""
    if isinstance(value, dict):
        atomic_item = len(path) >= 2 and path[-2] == "f:ownerReferences"
        return "leaf" if _name(path) in _ATOMIC or atomic_item else "map"
    if isinstance(value, list):
        if path[-2:] in _SET_LISTS and all(not isinstance(v, (dict, list)) for v in value):
            return "set"
        keys = _keys_of(path, value)
        elements = [_item_element(keys, item) for item in value] if keys else []
        # Items repeating a key (a dual-stack node's two InternalIPs) make the list one
        # value here; SMD keeps the list granular and the repeated key atomic.
        if keys and all(elements) and len(set(elements)) == len(elements):
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
            yield "v:" + dumps(item), item


def check_config(value: Any, where: str, path: Path = ()) -> None:
    """What SMD refuses in an applied configuration: an associative list item without
    its key fields, or two items with one key. `where` names the object as
    structuredmerge.go's objectGVKNN does; upstream the error is not a Status, so it
    reaches the client as a 500 without a reason."""
    problem = ""
    if isinstance(value, dict) and _kind(path, value) == "map":
        for key, child in value.items():
            check_config(child, where, (*path, "f:" + key))
    elif isinstance(value, list) and _kind(path, value) == "assoc":
        for element, item in _children(path, value, "assoc"):
            check_config(item, where, (*path, element))
    elif isinstance(value, list) and (keys := _keys_of(path, value)):
        seen: set[str] = set()
        for i, item in enumerate(value):
            key = _item_element(keys, item)
            if key is None:
                missing = next(
                    k
                    for k in keys
                    if not isinstance(item, dict) or (k not in item and k not in _KEY_DEFAULTS)
                )
                problem = (
                    f"element {i}: associative list with keys has an element that omits key "
                    f'field "{missing}" (and doesn\'t have default value)'
                )
                break
            if key in seen:
                problem = f"duplicate entries for key {path_string((key,))}"
                break
            seen.add(key)
    if problem:
        raise ApiError(
            "",
            f"failed to create typed patch object ({where}): {path_string(path)}: {problem}",
            code=500,
        )


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
        return clean(config)
    kind = _kind(path, live)
    if kind != _kind(path, config) or kind == "leaf":
        return clean(config)
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
            out.append(clean(config_items[new]))
        if element in config_items:
            out.append(merge(item, config_items[element], (*path, element)))
        else:
            out.append(item)
    out.extend(clean(config_items[e]) for e in pending)
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


def clean(value: Any) -> Any:
    """Nulls dropped, as a typed object has no null fields."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [clean(v) for v in value]
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
            normal = f"{prefix}:{dumps(json.loads(rest))}"
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
