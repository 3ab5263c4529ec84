"""The report as Markdown tables, laid out like the 2021 comparison's."""

from __future__ import annotations

from typing import Any

from pytest_k8sdistro.report.model import (
    NOT_TESTED,
    UPGRADE_FILE_PROPERTY,
    UPGRADE_PROPERTY,
    Entry,
    Report,
    upgrade_timelines,
)
from pytest_k8sdistro.report.timeline import summary_lines

#: Suite modules in the order of the blog's feature table, with their row titles.
SUITE_ROWS: tuple[tuple[str, str], ...] = (
    ("cluster", "API and nodes"),
    ("dns", "DNS"),
    ("networking", "Networking (CNI, policy)"),
    ("runtime", "Runtime"),
    ("storage", "Storage"),
    ("load_balancer", "Load balancer"),
    ("ingress", "Ingress"),
    ("ipv6", "IPv6"),
    ("datastore", "Control plane storage"),
    ("multinode", "Multi-node"),
    ("workloads", "Workloads (Job, CronJob, StatefulSet)"),
    ("reaching_in", "Reaching in (exec, port-forward)"),
    ("access_control", "Access control"),
    ("metrics", "Metrics (kubectl top)"),
)
#: Shown where nothing was measured; the ranges' dash.
NONE = "\u2013"
DASH = "\u2013"
MARKS = {"passed": "✓", "failed": "✗", "skipped": NONE}


def mib(value: Any) -> str:
    return NONE if value is None else f"{float(value):.0f} MiB"


def megabytes(value: Any) -> str:
    return NONE if value is None else f"{int(value) / 1e6:.1f} MB"


def not_measured(e: Entry) -> str | None:
    """ "not measured: CAUSE" when the run could not have the distribution's cluster."""
    cause = e.get("not_tested")
    if not cause:
        return None
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else "unknown cause"
    return f"not measured: {first[:160]}"


def outcome(bucket: dict[str, Any]) -> str:
    """``✓``, ``✗ 1 of 3 failed`` or ``- skipped`` for a suite's tests."""
    if not bucket or not bucket.get("tests"):
        return "not run"
    tests = bucket["tests"]
    if tests and all(t["outcome"] == NOT_TESTED for t in tests):
        first = str(tests[0].get("message", "")).strip().splitlines()[:1]
        return f"not measured: {first[0][:160] if first else 'the cluster could not be had'}"
    failed, passed = bucket.get("failed", 0), bucket.get("passed", 0)
    total = len([t for t in tests if t["outcome"] != NOT_TESTED])
    if failed:
        return f"✗ {failed} of {total} failed"
    if passed:
        return "✓" if passed == total else f"✓ ({total - passed} skipped)"
    return f"{NONE} skipped"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    return [line(head), "| " + " | ".join("---" for _ in head) + " |", *map(line, rows)]


def _check(passed: Any) -> str:
    return "" if passed is None else (" ✓" if passed else " ✗")


def requirements_rows(entries: list[Entry]) -> list[list[str]]:
    def fits(e: Entry) -> str:
        f = e["fits"]
        if not f:
            return not_measured(e) or "not checked"
        if f.get("skipped"):
            return f"not checked: {f['skipped']}"
        if f.get("ready") and f.get("serves"):
            return f"yes: Ready and serving under {mib(f.get('limit_mib'))}"
        return f"no: {f.get('detail') or 'not Ready'}"

    def idle(e: Entry) -> str:
        t = e["memory_threshold"]
        if not t:
            return not_measured(e) or "not measured"
        return f"{mib(t.get('measured_mib'))}{_check(t.get('passed'))}"

    def idle_limit(e: Entry) -> str:
        t = e["memory_threshold"]
        if t.get("limit_mib") is not None:
            return f"{mib(t['limit_mib'])} ({t.get('from', 'profile')})"
        return mib(e["requirements"].get("memory_idle_max_mib"))

    def disk(e: Entry) -> str:
        d = e["disk"]
        if "install_bytes" not in d:
            return not_measured(e) or "not measured"
        return f"{megabytes(d['install_bytes'])}{_check(d.get('passed'))}"

    return [
        [
            "Memory, documented minimum",
            *(mib(e["requirements"].get("memory_min_mib")) for e in entries),
        ],
        ["Boots and serves under that limit", *(fits(e) for e in entries)],
        ["Idle memory threshold", *(idle_limit(e) for e in entries)],
        ["Idle memory measured (median)", *(idle(e) for e in entries)],
        [
            "Disk threshold (install)",
            *(
                NONE
                if e["requirements"].get("disk_max_mb") is None
                else f"{e['requirements']['disk_max_mb']} MB"
                for e in entries
            ),
        ],
        ["Disk measured (install)", *(disk(e) for e in entries)],
    ]


def features_rows(entries: list[Entry]) -> list[list[str]]:
    known = [suite for suite, _ in SUITE_ROWS]
    extra = sorted({s for e in entries for s in e["suites"]} - set(known) - {"footprint"})
    rows = []
    for suite, title in [*SUITE_ROWS, *((s, s) for s in extra)]:
        results = [outcome(e["suites"].get(suite, {})) for e in entries]
        if all(r == "not run" for r in results):
            continue
        cells = []
        for e, result in zip(entries, results, strict=True):
            claim = e.get("claims", {}).get(suite, "")
            cells.append(f"{claim}: {result}" if claim else result)
        rows.append([title, *cells])
    return rows


def memory_rows(entries: list[Entry]) -> list[list[str]]:
    tiers: list[str] = []
    for e in entries:
        tiers += [t for t in e["memory"] if t not in tiers]
    rows = []
    for tier in tiers:
        cells = []
        for e in entries:
            m = e["memory"].get(tier)
            if not m or m.get("median_mib") is None:
                cells.append(not_measured(e) or NONE)
                continue
            low, high = m.get("min_mib", 0), m.get("max_mib", 0)
            cells.append(f"{m['median_mib']:.0f} MiB ({low:.0f}{DASH}{high:.0f})")
        rows.append([tier, *cells])
    if rows:
        rows.append(["Method", *(memory_method(e) for e in entries)])
    return rows


def memory_method(entry: Entry) -> str:
    """How an entry's memory was measured (reports written before it was recorded: unknown)."""
    found = sorted({m["method"] for m in entry["memory"].values() if m.get("method")})
    return " / ".join(found) or NONE


def disk_rows(entries: list[Entry]) -> list[list[str]]:
    paths: list[str] = []
    for e in entries:
        paths += [p for p in e["disk"].get("paths", {}) if p not in paths]
    rows = [["Install (binary, data dir, unpacked images)", *(disk_install(e) for e in entries)]]
    rows += [
        [f"`{p}`", *(megabytes(e["disk"].get("paths", {}).get(p)) for e in entries)] for p in paths
    ]
    rows.append(["Node image", *(megabytes(e["disk"].get("image_bytes")) for e in entries)])
    return rows


def disk_install(e: Entry) -> str:
    if e["disk"].get("install_bytes") is None:
        return not_measured(e) or NONE
    return megabytes(e["disk"].get("install_bytes"))


def ready_rows(entries: list[Entry]) -> list[list[str]]:
    stages: list[str] = []
    for e in entries:
        stages += [s for s in e["time_to_ready"] if s not in stages]
    return [
        [stage, *(_seconds(e["time_to_ready"].get(stage)) for e in entries)] for stage in stages
    ]


def _seconds(value: Any) -> str:
    return NONE if value is None else f"{float(value):.1f} s"


def upgrade_summary(properties: dict[str, Any]) -> str:
    """The upgrade suite's figures in a sentence; other properties as ``key: value``."""
    parts = []
    for key, value in properties.items():
        if key == UPGRADE_FILE_PROPERTY:
            continue
        if key == UPGRADE_PROPERTY and isinstance(value, dict):
            moved = f"{value.get('from_version', '?')} -> {value.get('to_version', '?')}"
            parts.append(f"{moved}: {value.get('verdict', 'no verdict')}")
            if value.get("time_to_new_version_s") is not None:
                parts.append(f"new version after {float(value['time_to_new_version_s']):.1f} s")
            continue
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


def upgrade_rows(entries: list[Entry]) -> list[list[str]]:
    names: list[str] = []
    for e in entries:
        names += [t["name"] for t in e["upgrade"].get("tests", []) if t["name"] not in names]
    rows = []
    for name in names:
        cells = []
        for e in entries:
            test = next((t for t in e["upgrade"].get("tests", []) if t["name"] == name), None)
            if test is None:
                cells.append("not run")
                continue
            props = upgrade_summary(test.get("properties", {}))
            cells.append(f"{MARKS.get(test['outcome'], test['outcome'])} {props}".strip())
        rows.append([name, *cells])
    return rows


def timeline_title(key: str, test: dict[str, Any]) -> str:
    return f"Upgrade timeline: {key} ({test['name']})"


def timeline_lines(report: Report) -> list[str]:
    """Each upgrade's timeline in words (the HTML draws it): marks and outages."""
    lines = []
    for key, test in upgrade_timelines(report):
        t = test["timeline"]
        moved = f"{t.get('from_version') or '?'} -> {t.get('to_version') or '?'}"
        lines += [
            f"### {timeline_title(key, test)}",
            "",
            f"{moved}: {t.get('verdict') or 'no verdict'}. Seconds since probing started.",
            "",
            *summary_lines(t),
            "",
        ]
    return lines


def sections(report: Report) -> list[tuple[str, str, list[str], list[list[str]]]]:
    """(title, note, header, rows) of every table, shared by the Markdown and HTML writers."""
    keys = list(report["distros"])
    entries = [report["distros"][k] for k in keys]
    head = ["", *keys]
    from_what = {e.get("time_to_ready_from") for e in entries} - {None}
    ready_note = f"Seconds from {' / '.join(sorted(from_what)) or 'the start of provisioning'}."
    windows = {
        round(m["window_s"]) for e in entries for m in e["memory"].values() if m.get("window_s")
    }
    memory_note = (
        "Memory in use on the nodes, measured as the Method row says: the cgroup working "
        "set of a container node (usage minus inactive file cache), or MemTotal - "
        "MemAvailable of /proc/meminfo inside a machine or VM: median (min-max) over "
        + (", ".join(str(w) for w in sorted(windows)) or NONE)
        + " s once the tier's pods were Ready. Tiers are cumulative."
    )
    isolation = {e.get("memory_isolation") for e in entries} - {None}
    if isolation:
        memory_note += f" Measured on {' / '.join(sorted(isolation))}."
    limits = {e.get("node_memory_limit_mib") for e in entries}
    if limits == {None}:
        memory_note += (
            " No memory limit was set (--distro-node-memory): Go runtimes grow into free memory "
            "as long as it lasts, so these figures are upper bounds, not requirements."
        )
    found = [
        (
            "Requirements",
            "Documented figures and what was measured against them.",
            head,
            requirements_rows(entries),
        ),
        ("Time to ready", ready_note, head, ready_rows(entries)),
        (
            "Features found",
            f"The profile's claim and the suites' outcome (✓ passed, ✗ failed, {NONE} skipped).",
            head,
            features_rows(entries),
        ),
        ("Memory per tier", memory_note, head, memory_rows(entries)),
        (
            "Disk",
            "Apparent size of regular files, hard links once (1 MB = 10^6 bytes).",
            head,
            disk_rows(entries),
        ),
        (
            "Upgrade",
            "The upgrade suite's tests and what they recorded.",
            head,
            upgrade_rows(entries),
        ),
    ]
    return [s for s in found if s[3]]


def render(report: Report) -> str:
    lines = ["# Kubernetes distributions compared", ""]
    if not report["distros"]:
        return "\n".join([*lines, "No distribution was tested.", ""])
    for title, note, head, rows in sections(report):
        lines += [f"## {title}", "", note, "", *_table(head, rows), ""]
        if title == "Upgrade":
            lines += timeline_lines(report)
    sources = ", ".join(report.get("sources", []))
    lines.append(
        f"Generated {report.get('generated_at', '')}"
        + (f" from {sources}" if sources else "")
        + "."
    )
    return "\n".join(lines) + "\n"
