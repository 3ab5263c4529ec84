"""One parser for each kind of value an option or ini setting takes.

Each returns the value or raises :class:`pytest.UsageError` naming where the value
came from (``flag``: ``--distro-node-memory`` for an option, ``distro_ready_timeout (ini)``
for an ini setting), the value, and what is accepted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import TypeVar

import pytest

T = TypeVar("T")

_SIZE_UNITS = {
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
#: Docker refuses limits under 6 MiB; nothing Kubernetes-shaped boots in less.
MIN_MEMORY = 64 * 1024**2


def memory_size(value: str, *, flag: str) -> int:
    """``1GiB``, ``512MiB``, ``1.5G`` or ``1073741824B``, as a number of bytes.

    A bare number is refused: ``512`` is far more often meant as MiB than as bytes.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    unit = match.group(2).lower() if match else ""
    if match is not None and not unit:
        raise pytest.UsageError(
            f"{flag}={value!r} has no unit; write it like '{value.strip()}MiB', '1GiB' or "
            "'2G' (B, KB, MB, GB in powers of 1000; KiB, MiB, GiB in powers of 1024)"
        )
    if match is None or unit not in _SIZE_UNITS:
        raise pytest.UsageError(
            f"{flag}={value!r} is not a memory size; write it like '1GiB', '512MiB' or '2G'"
        )
    size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    if size < MIN_MEMORY:
        raise pytest.UsageError(f"{flag}={value!r} is under 64MiB; no distribution boots there")
    return size


def seconds(
    value: str,
    *,
    flag: str,
    minimum: float = 0.0,
    exclusive: bool = True,
    maximum: float | None = None,
    meaning: str = "seconds",
    example: str = "120",
) -> float:
    """A finite number of seconds above ``minimum`` (or at least it, with
    ``exclusive=False``) and at most ``maximum``."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    low_ok = number > minimum if exclusive else number >= minimum
    high_ok = maximum is None or number <= maximum
    if not (math.isfinite(number) and low_ok and high_ok):
        bound = f"greater than {minimum:g}" if exclusive else f"{minimum:g} or more"
        if maximum is not None:
            bound = f"from {minimum:g} to {maximum:g}"
        raise pytest.UsageError(
            f"{flag}={value!r}: give {meaning} {bound}, e.g. {flag.split()[0]}={example}"
        )
    return number


def cpu_count(value: str, *, flag: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not (math.isfinite(number) and number > 0):
        raise pytest.UsageError(
            f"{flag}={value!r} is not a positive number of CPUs, e.g. '1' or '0.5'"
        )
    return number


def whole_number(value: str, *, flag: str, low: int, high: int, what: str) -> int:
    text = value.strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise pytest.UsageError(
            f"{flag}={value!r}: give a whole number of {what} from {low} to {high}"
        )
    return int(text)


def image_ref(value: str, *, flag: str) -> str:
    """An image reference: non-empty, without white space (the engine says the rest)."""
    if not value.strip() or any(c.isspace() for c in value):
        raise pytest.UsageError(f"{flag}={value!r} is not an image reference")
    return value


def choice(value: str, *, flag: str, accepted: Iterable[str], what: str) -> str:
    """One of ``accepted``, case-insensitive."""
    options = tuple(accepted)
    chosen = value.strip().lower()
    if chosen not in options:
        raise pytest.UsageError(f"{flag}={value!r} is not {what}; use one of: {', '.join(options)}")
    return chosen


def option_type(parse: Callable[..., T], flag: str, **kwargs: object) -> Callable[[str], T]:
    """``parse`` as an argparse ``type=`` for ``flag``."""

    def convert(value: str) -> T:
        return parse(value, flag=flag, **kwargs)

    convert.__name__ = flag.lstrip("-").replace("-", "_")
    return convert


def ini_flag(name: str) -> str:
    """How an ini setting is named in messages."""
    return f"{name} (ini)"
