"""The upgrade result in the report, without clusters: the timeline embedded from the
suite's result file, downsampled, written as words (Markdown) and as a chart (HTML),
and kept through ``merge``."""

from __future__ import annotations

import base64
import json
import random
import re
import struct
from pathlib import Path
from typing import Any

import pytest

from pytest_k8sdistro.measure.upgrade.prober import Sample, summarise
from pytest_k8sdistro.report import (
    html,
    markdown,
    model,
    timeline,
)
from pytest_k8sdistro.report.chart import upgrade_chart_png

K3S = "k3s v1.36.5+k3s1"
K0S = "k0s v1.36.3+k0s.2"
NAME = "test_upgrade_in_place[k3s-v1.36]"
MARKS = [
    {"at": 5.0, "label": "upgrade started"},
    {"at": 18.7, "label": "procedure done"},
    {"at": 24.3, "label": "new version reported"},
    {"at": 27.5, "label": "steady again"},
]


def _samples(seconds: float, interval: float, down: tuple[float, float], seed: int) -> list[Sample]:
    """A prober's requests: a few ms each, slower near the outage, refused during it."""
    rng = random.Random(seed)
    samples = []
    for i in range(int(seconds / interval)):
        at = i * interval + rng.uniform(0, 0.004)
        if down[0] <= at < down[1]:
            samples.append(Sample(at, rng.uniform(0.0005, 0.002), None, "connection refused"))
            continue
        slow = 0.05 if abs(at - down[0]) < 1 or abs(at - down[1]) < 1 else 0.0
        samples.append(Sample(at, rng.uniform(0.001, 0.006) + slow * rng.random(), 200, None))
    return samples


def fake_result(
    distro: str = "k3s",
    source: str = "v1.36.5+k3s1",
    target: str = "v1.37.1+k3s1",
    *,
    seconds: float = 30.0,
    interval: float = 0.1,
) -> dict[str, Any]:
    """What suites/test_upgrade.py writes to its result file, with a ~2 s outage."""
    workload = _samples(seconds, interval, (20.0, 21.9), 1)
    api = _samples(seconds, interval, (19.2, 23.4), 2)
    w = summarise("workload", "http://127.0.0.1:8443/", interval, workload)
    c = summarise("control plane", "https://127.0.0.1:6443/readyz", interval, api)
    return {
        "distro": distro,
        "from_version": source,
        "to_version": target,
        "workload": w.to_dict(),
        "control_plane": c.to_dict(),
        "verdict": f"{w.total_failed_s:.2f}s of workload downtime",
        "file": "/tmp/run/k8sdistro-upgrade/k3s.json",
        "timeline": {
            "marks": MARKS,
            "columns": ["at_s", "latency_ms", "status", "error"],
            "workload": [s.row() for s in workload],
            "control_plane": [s.row() for s in api],
        },
    }


def _entry(distro: str, version: str, result: dict[str, Any] | None) -> model.Entry:
    entry = model.new_entry(distro, version)
    properties: dict[str, Any] = {}
    embedded = None
    if result is not None:
        properties = {
            model.UPGRADE_PROPERTY: {k: v for k, v in result.items() if k != "timeline"},
            model.UPGRADE_FILE_PROPERTY: result["file"],
        }
        embedded = timeline.from_result(result)
    model.add_test(entry, f"suites/test_upgrade.py::{NAME}", "failed", "", properties, embedded)
    return entry


def _report(*entries: tuple[str, model.Entry], source: str = "job") -> model.Report:
    report = model.new_report(source)
    report["distros"] = dict(entries)
    return report


def _images(page: str) -> list[bytes]:
    found = re.findall(
        r'class="upgrade-timeline" id="upgrade-timeline-\d+" alt="[^"]*" '
        r'src="data:image/png;base64,([^"]+)"',
        page,
    )
    return [base64.b64decode(data) for data in found]


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_timeline_is_embedded_from_the_result_file(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(fake_result(), indent=1))
    embedded = timeline.load(path)
    assert embedded is not None
    assert embedded["columns"] == ["at_s", "latency_ms", "ok"]
    assert embedded["requests"] == {"workload": 300, "control_plane": 300}
    assert [o["failed_requests"] for o in embedded["outages"]["workload"]] == [19]
    assert embedded["marks"] == MARKS and embedded["distro"] == "k3s"
    assert timeline.load(tmp_path / "missing.json") is None


def test_html_embeds_the_upgrade_timeline(tmp_path: Path) -> None:
    page = html.render(_report((K3S, _entry("k3s", "v1.36.5+k3s1", fake_result()))))
    (png,) = _images(page)
    width, height = _png_size(png)
    assert width >= 1000 and height >= 500
    # Kept for a look: pytest --basetemp=/tmp/t tests/test_report_upgrade.py
    (tmp_path / "upgrade-timeline.png").write_bytes(png)
    assert "Upgrade timeline: k3s v1.36.5+k3s1" in page
    assert "Workload outages: t=20.0\u201321.9 s (1.9 s, 19 failed: connection refused)" in page


def test_markdown_lists_outages_and_marks() -> None:
    text = markdown.render(_report((K3S, _entry("k3s", "v1.36.5+k3s1", fake_result()))))
    assert f"### Upgrade timeline: {K3S} ({NAME})" in text
    assert (
        "- Marks: upgrade started t=5.0 s, procedure done t=18.7 s, "
        "new version reported t=24.3 s, steady again t=27.5 s"
    ) in text
    assert (
        "- Workload outages (300 requests): "
        "t=20.0\u201321.9 s (1.9 s, 19 failed: connection refused)"
    ) in text
    assert "- API outages (300 requests): t=19.2\u201323.4 s (4.2 s, 42 failed" in text
    assert "<img" not in text and "base64" not in text


def test_merge_keeps_the_timelines_of_two_jobs(tmp_path: Path) -> None:
    one = _report((K3S, _entry("k3s", "v1.36.5+k3s1", fake_result())), source="a")
    two = _report(
        (
            K0S,
            _entry(
                "k0s", "v1.36.3+k0s.2", fake_result("k0s", "v1.36.3+k0s.2", "v1.37.0-alpha.1+k0s.0")
            ),
        ),
        source="b",
    )
    # Through JSON, as the merge command reads the jobs' reports.
    merged = model.merge([json.loads(model.dump(r)) for r in (one, two)])
    assert [key for key, _ in model.upgrade_timelines(merged)] == [K3S, K0S]
    assert len(_images(html.render(merged))) == 2
    text = markdown.render(merged)
    assert f"### Upgrade timeline: {K3S}" in text and f"### Upgrade timeline: {K0S}" in text
    # A later job of the same distribution without a timeline does not drop it.
    later = _report((K3S, model.new_entry("k3s", "v1.36.5+k3s1")), source="c")
    assert model.upgrade_timelines(model.merge([one, later]))


def test_no_upgrade_no_chart_and_a_note() -> None:
    report = _report((K3S, model.new_entry("k3s", "v1.36.5+k3s1")))
    page = html.render(report)
    assert "upgrade-timeline" not in page
    assert "No upgrade was run, so there is no timeline" in page
    assert "Upgrade timeline" not in markdown.render(report)
    skipped = _report((K3S, _entry("k3s", "v1.36.5+k3s1", None)))
    assert "No upgrade timeline: no upgrade test of this report recorded one" in html.render(
        skipped
    )


def test_downsampling_keeps_every_failure_and_bounds_the_size() -> None:
    # Half an hour at 10 Hz with a 2 s outage and one slow answer.
    result = fake_result(seconds=1800.0)
    result["timeline"]["workload"][9000][1] = 900.0
    embedded = timeline.from_result(result)
    rows = embedded["workload"]
    full = timeline.compact(result["timeline"]["workload"])
    assert len(full) == 18000 and len(rows) <= timeline.MAX_POINTS
    assert [r for r in rows if not r[2]] == [r for r in full if not r[2]]
    assert max(r[1] for r in rows) == 900.0  # the slowest answer of its bucket survives
    first_failed = next(i for i, r in enumerate(full) if not r[2])
    assert full[first_failed - 1] in rows  # the success before the outage: its edge
    assert len(json.dumps(embedded)) < 200_000
    assert timeline.downsample(full[:100]) == full[:100]


def test_a_flood_of_failures_is_bounded_too() -> None:
    rows = [[i * 0.1, 1.0, i % 500 < 5] for i in range(50_000)]
    kept = timeline.downsample(rows, limit=1000, max_failed=3000)
    failed = [r for r in kept if not r[2]]
    assert 3000 <= len(failed) <= 3000 + 2 * 100  # plus each run's first and last
    assert len(kept) < 4000
    assert rows[5] in kept and rows[499] in kept  # a run's edges


def test_chart_alone(tmp_path: Path) -> None:
    png = upgrade_chart_png(K3S, timeline.from_result(fake_result()))
    assert _png_size(png)[0] >= 1000
    (tmp_path / "alone.png").write_bytes(png)


@pytest.mark.parametrize("rows", [[], [[0.0, 1.0, True]]])
def test_chart_of_an_almost_empty_timeline(rows: list[list[Any]]) -> None:
    embedded = {"workload": rows, "control_plane": rows, "marks": [], "outages": {}}
    assert _png_size(upgrade_chart_png(K3S, embedded))[0] > 0


PLUGIN_TEST = """
import json

def test_upgrade_in_place(k8sdistro_spec, record_property, tmp_path):
    path = tmp_path / "result.json"
    path.write_text(json.dumps(RESULT))
    record_property("k8sdistro_upgrade", {"verdict": RESULT["verdict"]})
    record_property("k8sdistro_upgrade_file", str(path))
"""


def test_the_collector_embeds_the_timeline_from_the_result_file(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_upgrade=PLUGIN_TEST.replace("RESULT", repr(fake_result())))
    result = pytester.runpytest_subprocess("--distro=k3s", "--distro-report=out/report")
    result.assert_outcomes(passed=1)
    report = json.loads((pytester.path / "out" / "report.json").read_text())
    ((key, test),) = model.upgrade_timelines(report)
    assert key.startswith("k3s ") and test["timeline"]["requests"]["workload"] == 300
    assert (
        "Workload outages (300 requests): t=20.0"
        in (pytester.path / "out" / "report.md").read_text()
    )
    assert 'class="upgrade-timeline"' in (pytester.path / "out" / "report.html").read_text()
