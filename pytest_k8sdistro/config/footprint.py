"""Options of the footprint measurements and the comparison report.

Added to the plugin's option group by :func:`pytest_k8sdistro.config.options.add_options`;
read back, checked, by :func:`from_config`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_k8sdistro.config import parse
from pytest_k8sdistro.errors import ConfigError
from pytest_k8sdistro.measure.footprint.tier import TIER_HELP, TIERS, Tier

DEFAULT_SETTLE_S = 30.0
REPORT_FORMATS = ("md", "json", "html")


@dataclass(frozen=True)
class FootprintSettings:
    report: Path | None
    memory_max: int | None
    tiers: tuple[Tier, ...]
    settle_s: float


def memory_max(value: str) -> int:
    return parse.memory_size(value, flag="--distro-memory-max")


def memory_tiers(value: str) -> tuple[Tier, ...]:
    """``empty,utilities,app``: names of shipped tiers or paths of YAML manifests."""
    tiers: list[Tier] = []
    for raw in (part.strip() for part in value.split(",")):
        if not raw:
            continue
        if raw in TIERS:
            tiers.append(Tier(raw))
            continue
        path = Path(raw).expanduser()
        if path.suffix in (".yaml", ".yml") or "/" in raw:
            if not path.is_file():
                raise pytest.UsageError(
                    f"--distro-memory-tiers: {raw!r} is no such file; give tier names "
                    f"({', '.join(TIERS)}) or paths of YAML manifests"
                )
            tiers.append(Tier(path.stem, path.resolve()))
            continue
        raise pytest.UsageError(
            f"--distro-memory-tiers: {raw!r} is not a tier; known: "
            + "; ".join(f"{name} ({TIER_HELP[name]})" for name in TIERS)
            + ", or the path of a YAML manifest"
        )
    names = [tier.name for tier in tiers]
    if not tiers or len(set(names)) != len(names):
        raise pytest.UsageError(
            f"--distro-memory-tiers={value!r}: give one or more distinct tiers, "
            "e.g. empty,utilities,app"
        )
    return tuple(tiers)


def settle_seconds(value: str) -> float:
    return parse.seconds(
        value,
        flag="--distro-settle-seconds",
        meaning="the seconds to sample each tier for",
        example="30",
    )


def add_options(parser: pytest.Parser, group_name: str) -> None:
    group = parser.getgroup(group_name)
    group.addoption(
        "--distro-report",
        metavar="PATH",
        default=None,
        help="write the comparison report: PATH.md, PATH.json and PATH.html; a path ending "
        "in .md, .json or .html writes that format only",
    )
    group.addoption(
        "--distro-memory-max",
        dest="memory_max",
        type=memory_max,
        default=None,
        metavar="SIZE",
        help="idle memory threshold (e.g. 600MiB) instead of the profile's memory_idle_max_mib",
    )
    group.addoption(
        "--distro-memory-tiers",
        dest="memory_tiers",
        type=memory_tiers,
        default=None,
        metavar="TIER,...",
        help="memory tiers to measure, cumulative, in order: "
        + ", ".join(TIERS)
        + " (default all), or paths of YAML manifests of your own",
    )
    group.addoption(
        "--distro-settle-seconds",
        dest="settle_seconds",
        type=settle_seconds,
        default=None,
        metavar="SECONDS",
        help=f"how long each memory tier is sampled once its pods are Ready "
        f"(min/median/max). Default: {DEFAULT_SETTLE_S:g}",
    )


def report_target(value: str, *, flag: str) -> Path:
    """Where a report given as ``value`` goes, checked before anything runs.

    :class:`ConfigError` for an empty value, a directory, or a place that cannot be
    written; missing parent directories are made when the report is written.
    """
    if not value.strip():
        raise ConfigError(
            f"{flag}={value!r} is empty; give where the report goes, e.g. "
            f"{flag}=reports/k8sdistro (writes k8sdistro.md, .json and .html there)"
        )
    path = Path(value).expanduser()
    if path.is_dir() or value.endswith(("/", os.sep)):
        raise ConfigError(
            f"{flag}={value!r} is a directory; name the report's file in it, e.g. "
            f"{flag}={path / 'k8sdistro'} (writes k8sdistro.md, .json and .html there)"
        )
    for target in report_paths(path).values():
        if target.is_dir():
            raise ConfigError(f"{flag}={value!r}: {target} is a directory")
        ancestor = target.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise ConfigError(f"{flag}={value!r}: cannot write {target}: {ancestor} is a file")
        readonly = bool(os.statvfs(ancestor).f_flag & os.ST_RDONLY)
        if readonly or not os.access(ancestor, os.W_OK | os.X_OK):
            why = "a read-only filesystem" if readonly else "not writable"
            raise ConfigError(f"{flag}={value!r}: cannot write {target}: {ancestor} is {why}")
        if target.exists() and not os.access(target, os.W_OK):
            raise ConfigError(f"{flag}={value!r}: cannot write {target}: it is not writable")
    return path


def from_config(config: pytest.Config) -> FootprintSettings:
    option = config.option
    report = getattr(option, "distro_report", None)
    if report is not None:
        try:
            report = report_target(report, flag="--distro-report")
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    return FootprintSettings(
        report=report,
        memory_max=getattr(option, "memory_max", None),
        tiers=getattr(option, "memory_tiers", None) or tuple(Tier(name) for name in TIERS),
        settle_s=getattr(option, "settle_seconds", None) or DEFAULT_SETTLE_S,
    )


def report_paths(path: Path) -> dict[str, Path]:
    """Format -> file: one format by a known suffix, else all three beside ``path``."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix in REPORT_FORMATS:
        return {suffix: path}
    return {fmt: path.with_name(f"{path.name}.{fmt}") for fmt in REPORT_FORMATS}
