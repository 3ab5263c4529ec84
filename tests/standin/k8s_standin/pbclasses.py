"""Message classes for the tabled Kubernetes types, built at run time by the protobuf library.

The descriptors come from `pbtypes.MESSAGES` (field names, numbers and types), assembled
into one proto2 FileDescriptorProto: Kubernetes' generated.proto files are proto2, so
scalar fields have presence and a pointer that was sent as zero can be told from one that
was not sent. The protobuf library then parses the wire format; nothing here reads it.
"""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from k8s_standin.pbtypes import MESSAGES

PACKAGE = "k8s_standin.wire"

_SCALARS = {
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "double": descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
}
_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
_REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
_MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE


def element(type_name: str) -> str:
    """The type of one value: `*int32` -> `int32`, `[]Container` -> `Container`,
    `map[string]Quantity` -> `Quantity`."""
    if type_name.startswith("map[string]"):
        return type_name[len("map[string]") :]
    return type_name.removeprefix("[]").removeprefix("*")


def attr(json_name: str, number: int) -> str:
    """The field's name in the built class: its JSON name where that is an identifier.
    An inlined struct ("") and JSON names such as `$ref` or `x-kubernetes-list-type`
    get one from the number; only this module and protobuf.py see these names."""
    if json_name.isidentifier():
        return json_name
    return f"inline{number}" if not json_name else f"field{number}"


def _typed(field: descriptor_pb2.FieldDescriptorProto, type_name: str) -> None:
    if type_name in _SCALARS:
        field.type = _SCALARS[type_name]
    elif type_name in MESSAGES:
        field.type = _MESSAGE
        field.type_name = f".{PACKAGE}.{type_name}"
    else:
        raise KeyError(f"type {type_name!r} is neither a scalar nor a tabled message")


def _message(name: str) -> descriptor_pb2.DescriptorProto:
    proto = descriptor_pb2.DescriptorProto(name=name)
    for number, spec in MESSAGES[name].items():
        json_name, type_name = spec[0], spec[1]
        field = proto.field.add(name=attr(json_name, number), number=number)
        if type_name.startswith("map[string]"):
            # A map is a repeated entry message {key = 1; value = 2}, named as protoc names
            # it (the library checks the name: `labels` has `LabelsEntry`).
            entry_name = json_name[0].upper() + json_name[1:] + "Entry"
            entry = proto.nested_type.add(name=entry_name)
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, label=_OPTIONAL, type=_SCALARS["string"])
            _typed(entry.field.add(name="value", number=2, label=_OPTIONAL), element(type_name))
            field.label = _REPEATED
            field.type = _MESSAGE
            field.type_name = f".{PACKAGE}.{name}.{entry_name}"
        else:
            field.label = _REPEATED if type_name.startswith("[]") else _OPTIONAL
            _typed(field, element(type_name))
    return proto


@functools.cache
def _pool() -> descriptor_pool.DescriptorPool:
    file = descriptor_pb2.FileDescriptorProto(
        name="k8s_standin/wire.proto", package=PACKAGE, syntax="proto2"
    )
    file.message_type.extend(_message(name) for name in MESSAGES)
    # A pool of its own, so these names never meet another library's descriptors.
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(file.SerializeToString())
    return pool


@functools.cache
def message_class(name: str) -> Any:
    """The generated class for a tabled message (`Deployment`, `ObjectMeta`, ...)."""
    descriptor = _pool().FindMessageTypeByName(f"{PACKAGE}.{name}")
    # GetMessageClass is the API from protobuf 4.22 on; Debian bookworm's 3.21 (4.21.12
    # in Python's numbering) has only the factory's GetPrototype.
    get_class = getattr(message_factory, "GetMessageClass", None)
    if get_class is not None:
        return get_class(descriptor)
    return message_factory.MessageFactory(_pool()).GetPrototype(descriptor)


def new(name: str) -> Message:
    """An empty message of a tabled type."""
    instance: Message = message_class(name)()
    return instance
