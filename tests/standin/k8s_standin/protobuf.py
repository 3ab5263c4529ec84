"""Protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded into the JSON
shape the rest of the stand-in works on.

kubectl's typed commands (`kubectl create deployment|service|job|...`, `run`, `expose`)
send protobuf and do not fall back to JSON. The body is `k8s\\0` and a runtime.Unknown
whose `raw` is the object; the protobuf library parses both with the classes of
`pbclasses.py`, and this module writes the JSON that upstream's types would marshal to.

Decoding is strict: a field the table does not know (or knows with another wire type)
refuses the request, naming message and field number, because an object decoded without
some of its fields would be stored wrong without anyone noticing.
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

from google.protobuf.message import DecodeError

from k8s_standin.pbclasses import attr, element, new
from k8s_standin.pbtypes import ALWAYS, EVERY_VERSION, KINDS, MESSAGES

MAGIC = b"k8s\x00"

_ZERO: dict[str, Any] = {
    "string": "",
    "bytes": b"",
    "bool": False,
    "int32": 0,
    "int64": 0,
    "double": 0.0,
}
#: Messages whose JSON is a value of their own rather than an object of their fields.
_LEAVES = frozenset(
    {
        "IntOrString",
        "Quantity",
        "Time",
        "MicroTime",
        "RawExtension",
        # apiextensions/v1 marshal.go
        "JSON",
        "JSONSchemaPropsOrArray",
        "JSONSchemaPropsOrBool",
        "JSONSchemaPropsOrStringArray",
    }
)


#: A message of a class built at run time: its fields are unknown to type checkers.
Msg = Any


class Unsupported(ValueError):
    pass


def _unknown_numbers(msg: Msg) -> list[int]:
    try:
        # protobuf 4.22 and later; Message.UnknownFields() is deprecated there.
        from google.protobuf.unknown_fields import UnknownFieldSet
    except ImportError:  # Debian bookworm's 3.21
        return [field.field_number for field in msg.UnknownFields()]
    return [field.field_number for field in UnknownFieldSet(msg)]


def check_known(name: str, msg: Msg) -> None:
    """Refuse a message, or any message inside it, that carried fields the table lacks."""
    unknown = _unknown_numbers(msg)
    if unknown:
        raise Unsupported(f"{name} field {unknown[0]} is not decoded by the stand-in")
    for number, spec in MESSAGES[name].items():
        json_name, type_name = spec[0], spec[1]
        inner = element(type_name)
        if inner not in MESSAGES:
            continue
        value = getattr(msg, attr(json_name, number))
        if type_name.startswith("map[string]"):
            values = list(value.values())
        elif type_name.startswith("[]"):
            values = list(value)
        else:
            values = [value] if msg.HasField(attr(json_name, number)) else []
        for item in values:
            check_known(inner, item)


def _time(msg: Msg, micro: bool) -> str | None:
    seconds, nanos = msg.seconds, msg.nanos
    if not seconds and not nanos:
        return None  # the zero Time, which JSON leaves out (null)
    when = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    # metav1.Time is RFC 3339 to the second, MicroTime to the microsecond, both in UTC.
    return f"{text}.{nanos // 1000:06d}Z" if micro else f"{text}Z"


def _leaf(type_name: str, msg: Msg) -> Any:
    """The JSON of a message with a form of its own; None when it is the zero value."""
    if type_name == "IntOrString":
        # type 1 is a string; JSON has the bare int or string.
        if msg.type == 1:
            return msg.strVal
        return msg.intVal
    if type_name == "Quantity":
        return msg.string
    if type_name in ("RawExtension", "JSON"):
        # The bytes are the embedded object's own serialization: JSON for the objects
        # the stand-in serves (a ControllerRevision's data), and a schema's `default`,
        # `example` and `enum` values are JSON bytes. Empty bytes marshal as null.
        return json.loads(msg.raw) if msg.raw else None
    if type_name == "JSONSchemaPropsOrArray":
        # A list when it holds several schemas, else the one schema (null without one).
        if msg.jSONSchemas:
            return [to_json("JSONSchemaProps", item) for item in msg.jSONSchemas]
        return to_json("JSONSchemaProps", msg.schema) if msg.HasField("schema") else None
    if type_name == "JSONSchemaPropsOrBool":
        # The schema when there is one, else the bool.
        if msg.HasField("schema"):
            return to_json("JSONSchemaProps", msg.schema)
        return bool(msg.allows)
    if type_name == "JSONSchemaPropsOrStringArray":
        if msg.property:
            return list(msg.property)
        return to_json("JSONSchemaProps", msg.schema) if msg.HasField("schema") else None
    return _time(msg, micro=type_name == "MicroTime")


def _value(type_name: str, value: Any) -> Any:
    if type_name == "bytes":
        return base64.b64encode(value).decode()
    if type_name == "double" and value.is_integer() and abs(value) < 1e21:
        # Go's JSON writes a whole float64 without a fraction (`maximum: 5`).
        return int(value)
    if type_name in _ZERO:
        return value
    if type_name in _LEAVES:
        return _leaf(type_name, value)
    return to_json(type_name, value)


def to_json(name: str, msg: Msg) -> dict[str, Any]:
    """One tabled message as the JSON its Go type marshals to (see pbtypes.py)."""
    out: dict[str, Any] = {}
    for number, spec in MESSAGES[name].items():
        json_name, type_name = spec[0], spec[1]
        always = len(spec) > 2 and spec[2] == ALWAYS
        name_in_class = attr(json_name, number)
        inner = element(type_name)
        value = getattr(msg, name_in_class)
        if type_name.startswith("map[string]"):
            if value:
                out[json_name] = {k: _value(inner, v) for k, v in sorted(value.items())}
        elif type_name.startswith("[]"):
            if value:
                out[json_name] = [_value(inner, v) for v in value]
        elif type_name.startswith("*"):
            if msg.HasField(name_in_class):
                out[json_name] = _value(inner, value)
        elif inner in _ZERO:
            if always or value != _ZERO[inner]:
                out[json_name] = _value(inner, value)
        elif msg.HasField(name_in_class):
            converted = _value(inner, value)
            if not json_name:
                out.update(converted)
            elif inner == "IntOrString" and converted in (0, ""):
                # A plain IntOrString that is zero (gogo always writes it): upstream's
                # defaulting treats it as unset, and so does the stand-in's, by absence.
                continue
            elif converted is not None:
                out[json_name] = converted
    return out


def parse(name: str, data: bytes) -> Msg:
    msg = new(name)
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        raise Unsupported(f"{name} is not valid protobuf: {exc}") from None
    check_known(name, msg)
    return msg


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a `k8s\\0`-framed runtime.Unknown carrying one of the tabled kinds."""
    if not body.startswith(MAGIC):
        raise Unsupported("missing protobuf magic")
    unknown = parse("Unknown", body[len(MAGIC) :])
    type_meta = unknown.typeMeta
    kind, api_version = type_meta.kind, type_meta.apiVersion
    if unknown.contentEncoding:
        raise Unsupported("protobuf bodies with a content encoding are not supported")
    message = kind if kind in EVERY_VERSION else KINDS.get((api_version, kind))
    if message is None:
        raise Unsupported(f"protobuf bodies are not supported for {api_version} {kind!r}")
    obj = to_json(message, parse(message, unknown.raw))
    return {"apiVersion": api_version, "kind": kind, **obj}
