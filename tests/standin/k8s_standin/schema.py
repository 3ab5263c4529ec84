"""A CRD version's openAPIV3Schema applied to a custom object: pruning, then validation.

Modelled on apiextensions-apiserver (kubernetes v1.36, staging/src/k8s.io/
apiextensions-apiserver/pkg/apiserver/schema/pruning and .../apiserver/validation):
- Pruning drops every field a structural schema does not specify, except below
  `x-kubernetes-preserve-unknown-fields: true`; `additionalProperties` keeps (and
  checks) any key. At the root, and in `x-kubernetes-embedded-resource` objects,
  apiVersion, kind and metadata are always kept.
- Validation covers type (with `nullable` and `x-kubernetes-int-or-string`),
  required, enum, minimum/maximum (with the exclusive forms), minLength/maxLength,
  minItems/maxItems and pattern; each failure is a field error whose message has
  kube-openapi's wording (`<path> in body must be of type integer: "string"`).
- Defaulting, after pruning (.../apiserver/schema/defaulting: prunenulls.go, then
  algorithm.go): a null where the schema is not `nullable` and has no default is
  dropped; a property missing, or null where not `nullable`, takes a deep copy of its
  `default`; then each present property, `additionalProperties` value and array item
  is defaulted in turn by its own schema.
  CEL rules (`x-kubernetes-validations`) and formats are not applied.
"""

from __future__ import annotations

import copy
import re
from typing import Any

Obj = dict[str, Any]
Cause = dict[str, str]
_META_FIELDS = ("apiVersion", "kind", "metadata")


def prune(obj: Any, schema: Obj | None) -> Any:
    """Return `obj` without the fields `schema` does not specify (the root object)."""
    if not isinstance(obj, dict) or schema is None:
        return obj
    return _prune(obj, schema, root=True)


def _prune(value: Any, schema: Obj, root: bool = False) -> Any:
    if isinstance(value, dict):
        keep_meta = root or schema.get("x-kubernetes-embedded-resource") is True
        props: Obj = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
        out: Obj = {}
        for key, item in value.items():
            if keep_meta and key in _META_FIELDS:
                # metadata is ObjectMeta, pruned as such by the registry, not by the schema.
                out[key] = item
            elif key in props:
                out[key] = _prune(item, props[key])
            elif isinstance(extra, dict):
                out[key] = _prune(item, extra)
            elif extra is True or preserve:
                out[key] = item
        return out
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            return [_prune(item, items) for item in value]
    return value


def _field_schema(schema: Obj | None, key: str) -> Obj | None:
    """The schema of a map's key: its property's, else additionalProperties' (a schema)."""
    if schema is None:
        return None
    props: Obj = schema.get("properties") or {}
    found = props.get(key, schema.get("additionalProperties"))
    return found if isinstance(found, dict) else None


def _items_schema(schema: Obj | None) -> Obj | None:
    items = schema.get("items") if schema is not None else None
    return items if isinstance(items, dict) else None


def _non_nullable_null(value: Any, schema: Obj | None) -> bool:
    return value is None and schema is not None and schema.get("nullable") is not True


def drop_nulls(value: Any, schema: Obj | None) -> None:
    """Remove, in place, the nulls that are neither nullable nor defaulted
    (PruneNonNullableNullsWithoutDefaults); the others are left for default()."""
    if isinstance(value, dict):
        for key in list(value):
            sub = _field_schema(schema, key)
            if _non_nullable_null(value[key], sub) and not _defaulted(sub):
                del value[key]
            else:
                drop_nulls(value[key], sub)
    elif isinstance(value, list):
        for item in value:
            drop_nulls(item, _items_schema(schema))


def _defaulted(schema: Obj | None) -> bool:
    # `default: null` is no default: the structural schema's Default.Object is nil.
    return schema is not None and schema.get("default") is not None


def default(value: Any, schema: Obj | None) -> None:
    """Apply the schema's defaults to `value` in place (structural defaulting)."""
    if schema is None:
        return
    if isinstance(value, dict):
        props: Obj = schema.get("properties") or {}
        for key, prop in props.items():
            if _defaulted(prop) and (key not in value or _non_nullable_null(value[key], prop)):
                value[key] = copy.deepcopy(prop["default"])
        extra = schema.get("additionalProperties")
        for key in value:
            if key in props:
                default(value[key], props[key])
            elif isinstance(extra, dict):
                if _non_nullable_null(value[key], extra):
                    value[key] = copy.deepcopy(extra.get("default"))
                default(value[key], extra)
    elif isinstance(value, list):
        items = _items_schema(schema)
        for index, item in enumerate(value):
            if items is not None and _non_nullable_null(item, items):
                value[index] = copy.deepcopy(items.get("default"))
            default(value[index], items)


def unknown(obj: Any, schema: Obj | None) -> list[str]:
    """The paths of the fields prune() would drop, as upstream names them in its
    unknown-field errors and warnings (`spec.items[0].x`)."""
    if not isinstance(obj, dict) or schema is None:
        return []
    found: list[str] = []
    _unknown(obj, schema, "", found, root=True)
    return found


def _unknown(value: Any, schema: Obj, path: str, found: list[str], root: bool = False) -> None:
    if isinstance(value, dict):
        keep_meta = root or schema.get("x-kubernetes-embedded-resource") is True
        props: Obj = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        extra_ok = schema.get("x-kubernetes-preserve-unknown-fields") is True or extra is True
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if keep_meta and key in _META_FIELDS:
                continue
            if key in props:
                _unknown(item, props[key], where, found)
            elif isinstance(extra, dict):
                _unknown(item, extra, where, found)
            elif not extra_ok:
                found.append(where)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _unknown(item, schema["items"], f"{path}[{i}]", found)


def _type_name(value: Any) -> str:
    """The JSON type kube-openapi names in its messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _shown(value: Any) -> str:
    """A value as Go's field errors print it: strings quoted, numbers bare."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return "{...}" if isinstance(value, dict) else "[...]"
    return str(value)


def _matches_type(value: Any, schema: Obj) -> bool:
    wanted = schema.get("type")
    if schema.get("x-kubernetes-int-or-string") is True:
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    if not wanted:
        return True
    got = _type_name(value)
    if wanted == "number":
        return got in ("number", "integer")
    if wanted == "integer" and isinstance(value, float) and value.is_integer():
        return True  # JSON has one number type; 2.0 decodes as an integer upstream
    return bool(got == wanted)


def validate(obj: Obj, schema: Obj | None) -> list[Cause]:
    """Field errors of `obj` against `schema`, in upstream's order (depth first)."""
    if schema is None:
        return []
    causes: list[Cause] = []
    _validate(obj, schema, "", causes, root=True)
    return causes


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _invalid(causes: list[Cause], path: str, shown: str, detail: str, reason: str) -> None:
    causes.append({"reason": reason, "message": f"Invalid value: {shown}: {detail}", "field": path})


def _validate(value: Any, schema: Obj, path: str, causes: list[Cause], root: bool = False) -> None:
    where = path or "<root>"
    if value is None:
        if schema.get("nullable") is True or not schema.get("type"):
            return
        _invalid(
            causes,
            where,
            '"null"',
            f'{where} in body must be of type {schema["type"]}: "null"',
            "FieldValueTypeInvalid",
        )
        return
    if not _matches_type(value, schema):
        wanted = "integer,string" if schema.get("x-kubernetes-int-or-string") else schema["type"]
        got = _type_name(value)
        _invalid(
            causes,
            where,
            f'"{got}"',
            f'{where} in body must be of type {wanted}: "{got}"',
            "FieldValueTypeInvalid",
        )
        return
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        listed = ", ".join(f'"{e}"' for e in enum)
        causes.append(
            {
                "reason": "FieldValueNotSupported",
                "message": f"Unsupported value: {_shown(value)}: supported values: {listed}",
                "field": where,
            }
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _bounds(value, schema, where, causes)
    if isinstance(value, str):
        _string(value, schema, where, causes)
    if isinstance(value, list):
        _array(value, schema, path, where, causes)
    if isinstance(value, dict):
        _object(value, schema, path, causes, root)


def _bounds(value: float, schema: Obj, where: str, causes: list[Cause]) -> None:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None:
        if schema.get("exclusiveMinimum") is True and value <= low:
            detail = f"{where} in body should be greater than {_shown(low)}"
            _invalid(causes, where, _shown(value), detail, "FieldValueInvalid")
        elif value < low:
            detail = f"{where} in body should be greater than or equal to {_shown(low)}"
            _invalid(causes, where, _shown(value), detail, "FieldValueInvalid")
    if high is not None:
        if schema.get("exclusiveMaximum") is True and value >= high:
            detail = f"{where} in body should be less than {_shown(high)}"
            _invalid(causes, where, _shown(value), detail, "FieldValueInvalid")
        elif value > high:
            detail = f"{where} in body should be less than or equal to {_shown(high)}"
            _invalid(causes, where, _shown(value), detail, "FieldValueInvalid")


def _string(value: str, schema: Obj, where: str, causes: list[Cause]) -> None:
    shortest, longest = schema.get("minLength"), schema.get("maxLength")
    if shortest is not None and len(value) < shortest:
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "message": f"Invalid value: {_shown(value)}: {where} in body should be at "
                f"least {shortest} chars long",
                "field": where,
            }
        )
    if longest is not None and len(value) > longest:
        causes.append(
            {
                "reason": "FieldValueTooLong",
                "message": f"Too long: may not be more than {longest} bytes",
                "field": where,
            }
        )
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and re.search(pattern, value) is None:
        detail = f"{where} in body should match '{pattern}'"
        _invalid(causes, where, _shown(value), detail, "FieldValueInvalid")


def _array(value: list[Any], schema: Obj, path: str, where: str, causes: list[Cause]) -> None:
    fewest, most = schema.get("minItems"), schema.get("maxItems")
    if fewest is not None and len(value) < fewest:
        detail = f"{where} in body should have at least {fewest} items"
        _invalid(causes, where, f"{len(value)}", detail, "FieldValueInvalid")
    if most is not None and len(value) > most:
        causes.append(
            {
                "reason": "FieldValueTooMany",
                "message": f"Too many: {len(value)}: must have at most {most} items",
                "field": where,
            }
        )
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _validate(item, items, f"{path}[{i}]", causes)


def _object(value: Obj, schema: Obj, path: str, causes: list[Cause], root: bool) -> None:
    for key in schema.get("required") or []:
        if key not in value:
            causes.append(
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value",
                    "field": _join(path, key),
                }
            )
    props: Obj = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if root and key in _META_FIELDS:
            continue
        if key in props:
            _validate(item, props[key], _join(path, key), causes)
        elif isinstance(extra, dict):
            _validate(item, extra, _join(path, key), causes)
