"""The Kubernetes API's protobuf schema as kubectl was built with it, read out of its binary.

kubectl links k8s.io/api and k8s.io/apimachinery, whose gogo-protobuf generated code
registers every `generated.proto` as a gzipped FileDescriptorProto kept in the binary.
Read back, they are upstream's schema at kubectl's own version (field names, numbers,
types and the gogoproto options, among them `nullable`, which tells a Go pointer from a
value), and they owe nothing to the stand-in's table, which was written from types.go
at another version. Nothing of them is committed: they are read at test time.

A Kubernetes build that stops registering descriptors leaves nothing to read; callers
skip with that reason rather than pass.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import re
import zlib
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

#: gzip's header as Go's compress/gzip writes it (no name, no time, no flags).
_GZIP_HEADER = re.compile(rb"\x1f\x8b\x08\x00\x00\x00\x00\x00")
#: Only the gogoproto options are needed, and they are read as unknown fields.
_GOGO = "github.com/gogo/protobuf/gogoproto/gogo.proto"
#: gogoproto's `nullable` field option (gogo.proto: `optional bool nullable = 65001`).
_NULLABLE = 65001
#: The most one descriptor inflates to; core/v1's, the largest, is far below it.
_MAX_DESCRIPTOR = 4 << 20


def _descriptors(binary: bytes) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    for match in _GZIP_HEADER.finditer(binary):
        try:
            data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(
                binary[match.start() :], _MAX_DESCRIPTOR
            )
            file = descriptor_pb2.FileDescriptorProto.FromString(data)
        except (zlib.error, DecodeError):
            # Most gzip-looking runs in a binary are not descriptors at all.
            continue
        if file.name.endswith("/generated.proto") and file.package.startswith("k8s.io."):
            files[file.name] = file
    return files


class Schema:
    """Upstream's messages by full name, with classes to encode them."""

    def __init__(self, files: dict[str, descriptor_pb2.FileDescriptorProto]) -> None:
        self.files = files
        self.pool = descriptor_pool.DescriptorPool()
        added: set[str] = set()

        def add(name: str) -> None:
            if name in added or name == _GOGO:
                return
            file = files[name]
            for dependency in file.dependency:
                add(dependency)
            trimmed = descriptor_pb2.FileDescriptorProto()
            trimmed.CopyFrom(file)
            del trimmed.dependency[:]
            trimmed.dependency.extend(d for d in file.dependency if d != _GOGO)
            self.pool.Add(trimmed)
            added.add(name)

        for name in sorted(files):
            add(name)

    def message(self, full_name: str) -> Descriptor:
        return self.pool.FindMessageTypeByName(full_name)

    def kind(self, api_version: str, kind: str) -> Descriptor:
        """The message of a served kind: `apps/v1` -> k8s.io.api.apps.v1, `v1` -> core,
        `rbac.authorization.k8s.io/v1` -> rbac (a group's first label names its package)."""
        group, _, version = api_version.rpartition("/")
        package = group.split(".")[0] if group else "core"
        return self.message(f"k8s.io.api.{package}.{version}.{kind}")

    def new(self, descriptor: Descriptor) -> Message:
        message: Message = message_factory.GetMessageClass(descriptor)()
        return message


def nullable(field: FieldDescriptor) -> bool:
    """Whether the Go field is a pointer (or a slice of pointers): gogo's default, unless
    the field carries `(gogoproto.nullable) = false`."""
    options = descriptor_pb2.FieldOptions.FromString(field.GetOptions().SerializeToString())
    # gogo.proto's extensions are not in this pool, so the option is an unknown field.
    return all(value != 0 for number, value in _unknown_fields(options) if number == _NULLABLE)


def _unknown_fields(message: Message) -> list[tuple[int, Any]]:
    try:
        # protobuf 4.22 and later; Message.UnknownFields() is deprecated there.
        from google.protobuf.unknown_fields import UnknownFieldSet
    except ImportError:  # protobuf 4.21
        return [(f.field_number, f.data) for f in message.UnknownFields()]  # type: ignore[attr-defined]
    return [(f.field_number, f.data) for f in UnknownFieldSet(message)]


def repeated(field: FieldDescriptor) -> bool:
    # `is_repeated` from protobuf 6 on, which dropped `label`; 4.x has only `label`.
    if hasattr(field, "is_repeated"):
        return bool(field.is_repeated)
    return bool(field.label == FieldDescriptor.LABEL_REPEATED)


@functools.cache
def load(kubectl: str) -> Schema | None:
    """kubectl's schema, or None when its binary registers no descriptors."""
    files = _descriptors(Path(kubectl).read_bytes())
    return Schema(files) if files else None


# -- encoding a JSON object with upstream's classes ------------------------------------


def _time(text: str) -> tuple[int, int]:
    when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(when.timestamp()), when.microsecond * 1000


def _leaf(message: Any, value: Any) -> bool:
    """Fill a message whose JSON is a value of its own; False when it is not one."""
    name = message.DESCRIPTOR.full_name
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        message.string = str(value)
    elif name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        if isinstance(value, int):
            message.type, message.intVal = 0, value
        else:
            message.type, message.strVal = 1, value
    elif name in (
        "k8s.io.apimachinery.pkg.apis.meta.v1.Time",
        "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime",
    ):
        message.seconds, message.nanos = _time(value)
    elif name == "k8s.io.apimachinery.pkg.runtime.RawExtension":
        message.raw = json.dumps(value).encode()
    else:
        return False
    return True


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64decode(value)
    return value


def _named(descriptor: Descriptor, key: str) -> FieldDescriptor | None:
    """The field of a JSON key: go-to-protobuf names a field after its JSON tag, or after
    its Go name where the two differ past case (`apiGroup` is `aPIGroup`)."""
    field = descriptor.fields_by_name.get(key)
    if field is None:
        field = next((f for f in descriptor.fields if f.name.lower() == key.lower()), None)
    return field


def _inline_holder(descriptor: Descriptor, key: str) -> FieldDescriptor | None:
    """The message field a JSON key belongs to when Go inlines that struct
    (`json:",inline"`: Volume's VolumeSource, Probe's ProbeHandler, ...)."""
    for field in descriptor.fields:
        message = field.message_type
        if message is not None and key in message.fields_by_name and not repeated(field):
            return field
    return None


def fill(message: Any, obj: dict[str, Any]) -> None:
    """Set `message` from a JSON object, field by JSON name, as upstream's Go types would
    carry it; a key upstream's schema lacks raises KeyError."""
    descriptor = message.DESCRIPTOR
    for key, value in obj.items():
        field = _named(descriptor, key)
        if field is None:
            holder = _inline_holder(descriptor, key)
            if holder is None:
                raise KeyError(f"{descriptor.full_name} has no field {key!r}")
            fill(getattr(message, holder.name), {key: value})
            continue
        _set(message, field, value)


def _set(message: Any, field: FieldDescriptor, value: Any) -> None:
    target = getattr(message, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_field = field.message_type.fields_by_name["value"]
        for key, item in value.items():
            if value_field.message_type is None:
                target[key] = _scalar(value_field, item)
            elif not _leaf(target[key], item):
                fill(target[key], item)
    elif repeated(field):
        for item in value:
            if field.message_type is None:
                target.append(_scalar(field, item))
            else:
                added = target.add()
                if not _leaf(added, item):
                    fill(added, item)
    elif field.message_type is not None:
        target.SetInParent()
        if not _leaf(target, value):
            fill(target, value)
    else:
        setattr(message, field.name, _scalar(field, value))


def encode(schema: Schema, obj: dict[str, Any], descriptor: Descriptor | None = None) -> bytes:
    """A whole request body, `k8s\\0` and runtime.Unknown, as client-go sends one; the
    message is the kind's own unless given (DeleteOptions, under any apiVersion)."""
    descriptor = descriptor or schema.kind(obj["apiVersion"], obj["kind"])
    message = schema.new(descriptor)
    fill(message, {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")})
    unknown: Any = schema.new(schema.message("k8s.io.apimachinery.pkg.runtime.Unknown"))
    unknown.typeMeta.apiVersion = obj["apiVersion"]
    unknown.typeMeta.kind = obj["kind"]
    unknown.raw = message.SerializeToString()
    unknown.contentEncoding = ""
    unknown.contentType = ""
    return b"k8s\x00" + unknown.SerializeToString()
