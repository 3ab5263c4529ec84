"""The comparison report as plain data (what the JSON holds), built and merged.

One entry per distribution and version, keyed ``"<name> <version>"``::

    requirements     the profile's documented figures and thresholds
    time_to_ready    seconds to each readiness stage (and from what: time_to_ready_from)
    memory           per tier: min/median/max MiB over the settle window, samples, source,
                     method (cgroup working set, or MemTotal - MemAvailable)
    memory_threshold the idle check: limit, measured, where the limit came from, passed
    fits             the "fits in N" check: limit, ready, serves, detail
    disk             install bytes (per path), image bytes, limit, passed
    suites           per suite module: counts and each test's outcome and properties
    upgrade          the upgrade suite's tests (suites/test_upgrade.py), as suites; a
                     test that upgraded carries its probe ``timeline``
                     (:mod:`pytest_k8sdistro.report.timeline`), so merged reports
                     draw every job's chart
"""

from __future__ import annotations

import copy
import datetime
import json
from pathlib import Path
from typing import Any

from pytest_k8sdistro.measure.upgrade import results

FORMAT = "pytest-k8sdistro-report/1"
#: Properties the footprint suite records start with this; the rest of the key says
#: where the value goes (see :func:`apply_property`).
PREFIX = "footprint."
#: The property the plugin adds to every test report: which distribution it ran on.
DISTRO_PROPERTY = "k8sdistro.distro"
UPGRADE_SUITE = "upgrade"
#: What the upgrade suite records: its figures, and the file with its timelines.
UPGRADE_PROPERTY = results.PROPERTY
UPGRADE_FILE_PROPERTY = results.FILE_PROPERTY

#: The outcome of a test whose cluster could not be had: not a verdict.
NOT_TESTED = "not-tested"
OUTCOMES = ("passed", "failed", "skipped", NOT_TESTED)

Report = dict[str, Any]
Entry = dict[str, Any]


def new_report(source: str = "") -> Report:
    return {
        "format": FORMAT,
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "sources": [source] if source else [],
        "distros": {},
    }


def new_entry(distro: str, version: str) -> Entry:
    return {
        "distro": distro,
        "version": version,
        "image": None,
        "provisioner": None,
        "node_memory_limit_mib": None,
        "requirements": {},
        "time_to_ready": {},
        "time_to_ready_from": None,
        "memory": {},
        "memory_threshold": {},
        "fits": {},
        "disk": {},
        "suites": {},
        "upgrade": {},
    }


def entry_key(distro: str, version: str) -> str:
    return f"{distro} {version}"


def apply_property(entry: Entry, key: str, value: Any) -> bool:
    """Put a ``footprint.*`` property where it belongs; False for other keys.

    ``footprint.memory.<tier>.<field>``, ``footprint.ready.<stage>``,
    ``footprint.disk.path:<path>`` and ``footprint.<section>.<field>`` for the
    sections memory_threshold, fits, disk and info (top-level facts).
    """
    if not key.startswith(PREFIX):
        return False
    section, _, rest = key[len(PREFIX) :].partition(".")
    if not rest:
        return False
    if section == "memory":
        tier, _, field = rest.rpartition(".")
        entry["memory"].setdefault(tier, {})[field] = value
    elif section == "ready":
        entry["time_to_ready"][rest] = value
    elif section == "info":
        entry[rest] = value
    elif section == "disk" and rest.startswith("path:"):
        entry["disk"].setdefault("paths", {})[rest[len("path:") :]] = value
    elif section in ("memory_threshold", "fits", "disk"):
        entry[section][rest] = value
    else:
        return False
    return True


def suite_of(nodeid: str) -> str:
    """``suites/test_dns.py::test_x[NAME]`` -> ``dns``."""
    module = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    name = module.removesuffix(".py")
    return name.removeprefix("test_")


def add_test(
    entry: Entry,
    nodeid: str,
    outcome: str,
    message: str,
    properties: dict[str, Any],
    timeline: dict[str, Any] | None = None,
) -> None:
    suite = suite_of(nodeid)
    bucket = entry["upgrade"] if suite == UPGRADE_SUITE else entry["suites"].setdefault(suite, {})
    tests: list[dict[str, Any]] = bucket.setdefault("tests", [])
    name = nodeid.split("::", 1)[-1]
    tests[:] = [t for t in tests if t["name"] != name]
    test: dict[str, Any] = {"name": name, "outcome": outcome}
    if message:
        test["message"] = message
    if properties:
        test["properties"] = properties
    if timeline:
        test["timeline"] = timeline
    tests.append(test)
    _count(bucket)


def upgrade_timelines(report: Report) -> list[tuple[str, dict[str, Any]]]:
    """(entry key, test) of every upgrade test that carries a timeline."""
    return [
        (key, test)
        for key, entry in report["distros"].items()
        for test in entry.get("upgrade", {}).get("tests", [])
        if test.get("timeline")
    ]


def _count(bucket: dict[str, Any]) -> None:
    for outcome in OUTCOMES:
        bucket[outcome] = sum(1 for t in bucket.get("tests", []) if t["outcome"] == outcome)


def _merge_value(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        merged = dict(old)
        for key, value in new.items():
            merged[key] = _merge_value(old.get(key), value)
        return merged
    if new in (None, {}, [], ""):
        return old
    return new


def merge(reports: list[Report]) -> Report:
    """One report from several (a CI matrix): entries of one distribution and version
    are combined, later reports winning where both measured the same figure."""
    merged = new_report()
    for report in reports:
        if report.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} report (format {report.get('format')!r})")
        merged["sources"] += report.get("sources", [])
        for key, entry in report.get("distros", {}).items():
            old = merged["distros"].get(key)
            if old is None:
                merged["distros"][key] = copy.deepcopy(entry)
                continue
            tests = {
                suite: {t["name"]: t for t in old["suites"].get(suite, {}).get("tests", [])}
                for suite in {*old["suites"], *entry["suites"]}
            }
            upgrade = {t["name"]: t for t in old.get("upgrade", {}).get("tests", [])}
            combined = _merge_value(old, entry)
            for suite, bucket in entry["suites"].items():
                tests[suite].update({t["name"]: t for t in bucket.get("tests", [])})
            for suite, by_name in tests.items():
                combined["suites"][suite] = {"tests": list(by_name.values())}
                _count(combined["suites"][suite])
            upgrade.update({t["name"]: t for t in entry.get("upgrade", {}).get("tests", [])})
            combined["upgrade"] = {"tests": list(upgrade.values())} if upgrade else {}
            if upgrade:
                _count(combined["upgrade"])
            merged["distros"][key] = combined
    return merged


def load(path: Path) -> Report:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read a report: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(
            f"{path}: not a pytest-k8sdistro report (format {found!r}, expected {FORMAT!r}); "
            "give the .json files that --distro-report wrote"
        )
    return data


def dump(report: Report) -> str:
    return json.dumps(report, indent=2, sort_keys=False) + "\n"
