"""``--distro-expect FILE``: a vendor's changes to a distribution's expectations.

The file maps distribution names to the expectation fields to change::

    k0s:
      storage_class: openebs-hostpath        # this image ships a provisioner
      storage_provisioner: openebs.io/local
      volume_binding_mode: WaitForFirstConsumer

Field names are those of :class:`~pytest_k8sdistro.distros.registry.Expectations`; dashes
may stand for underscores. Every mistake is reported with the file, the line and
the key.
"""

from __future__ import annotations

import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Imported here, in each function: every pytest run with the plugin installed
    # would pay for loading yaml, and most never read a kubeconfig or overrides.
    import yaml

from pytest_k8sdistro.distros.profile import Expectations
from pytest_k8sdistro.distros.registry import known_distros
from pytest_k8sdistro.errors import ExpectFileError

_FIELD_TYPES: dict[str, Any] = typing.get_type_hints(Expectations)


def load(path: Path) -> dict[str, dict[str, Any]]:
    """The overrides in ``path``, by distribution name."""
    import yaml

    where = str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ExpectFileError(f"{where}: cannot read it: {exc.strerror}") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ExpectFileError(f"{where}: not valid YAML: {exc}") from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise ExpectFileError(
            f"{where}, line {root.start_mark.line + 1}: expected a mapping of distribution "
            f"names ({', '.join(known_distros())}) to expectations"
        )
    overrides: dict[str, dict[str, Any]] = {}
    for key_node, value_node in root.value:
        distro = key_node.value
        line = key_node.start_mark.line + 1
        if distro not in known_distros():
            raise ExpectFileError(
                f"{where}, line {line}: unknown distribution {distro!r}; "
                f"known: {', '.join(known_distros())}"
            )
        if not isinstance(value_node, yaml.MappingNode):
            raise ExpectFileError(
                f"{where}, line {line}: {distro!r} must map field names to values"
            )
        overrides[distro] = _fields(where, value_node)
    return overrides


def _fields(where: str, mapping: yaml.MappingNode) -> dict[str, Any]:
    import yaml

    known = [f.name for f in fields(Expectations)]
    found: dict[str, Any] = {}
    for key_node, value_node in mapping.value:
        line = key_node.start_mark.line + 1
        name = str(key_node.value).replace("-", "_")
        if name not in known:
            raise ExpectFileError(
                f"{where}, line {line}: unknown key {key_node.value!r}; "
                f"known keys: {', '.join(known)}"
            )
        value = yaml.safe_load(yaml.serialize(value_node))
        found[name] = _checked(where, line, name, value)
    return found


def _checked(where: str, line: int, name: str, value: Any) -> Any:
    expected = _FIELD_TYPES[name]
    origin = typing.get_origin(expected)
    if origin is tuple:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        wanted = "a list of strings"
    elif origin is typing.Literal:
        if value in typing.get_args(expected):
            return value
        wanted = "one of " + ", ".join(map(str, typing.get_args(expected)))
    elif origin in (types.UnionType, typing.Union):  # "str | None"
        if value is None or isinstance(value, str):
            return value
        wanted = "a string, or null for absent"
    elif expected is bool:
        if isinstance(value, bool):
            return value
        wanted = "true or false"
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        wanted = "a whole number"
    elif isinstance(value, str) and value:
        return value
    else:
        wanted = "a string"
    raise ExpectFileError(f"{where}, line {line}: {name} must be {wanted}, not {value!r}")
