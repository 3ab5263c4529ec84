"""Options of the footprint measurements and the comparison report.

Added to the plugin's option group by :func:`pytest_k8sdistro.config.options.add_options`;
read back, checked, by :func:`from_config`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_k8sdistro.config import parse
from pytest_k8sdistro.measure.footprint.tiers import TIER_HELP, TIERS, Tier

DEFAULT_SETTLE_S = 30.0
REPORT_FORMATS = ("md", "json", "html")


@dataclass(frozen=True)
class FootprintSettings:
    report: Path | None
    memory_max: int | None
    tiers: tuple[Tier, ...]
    settle_s: float


def memory_max(value: str) -> int:
    return parse.memory_size(value, flag="--memory-max")


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
                    f"--memory-tiers: {raw!r} is no such file; give tier names "
                    f"({', '.join(TIERS)}) or paths of YAML manifests"
                )
            tiers.append(Tier(path.stem, path.resolve()))
            continue
        raise pytest.UsageError(
            f"--memory-tiers: {raw!r} is not a tier; known: "
            + "; ".join(f"{name} ({TIER_HELP[name]})" for name in TIERS)
            + ", or the path of a YAML manifest"
        )
    names = [tier.name for tier in tiers]
    if not tiers or len(set(names)) != len(names):
        raise pytest.UsageError(
            f"--memory-tiers={value!r}: give one or more distinct tiers, e.g. empty,utilities,app"
        )
    return tuple(tiers)


def settle_seconds(value: str) -> float:
    return parse.seconds(
        value, flag="--settle-seconds", meaning="the seconds to sample each tier for", example="30"
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
        "--memory-max",
        type=memory_max,
        default=None,
        metavar="SIZE",
        help="idle memory threshold (e.g. 600MiB) instead of the profile's memory_idle_max_mib",
    )
    group.addoption(
        "--memory-tiers",
        type=memory_tiers,
        default=None,
        metavar="TIER,...",
        help="memory tiers to measure, cumulative, in order: "
        + ", ".join(TIERS)
        + " (default all), or paths of YAML manifests of your own",
    )
    group.addoption(
        "--settle-seconds",
        type=settle_seconds,
        default=None,
        metavar="SECONDS",
        help=f"how long each memory tier is sampled once its pods are Ready "
        f"(min/median/max). Default: {DEFAULT_SETTLE_S:g}",
    )


def from_config(config: pytest.Config) -> FootprintSettings:
    option = config.option
    report = getattr(option, "distro_report", None)
    return FootprintSettings(
        report=Path(report) if report else None,
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
