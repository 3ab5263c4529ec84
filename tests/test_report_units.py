"""The report without clusters: properties into entries, merging, the three writers,
the chart, the merge command, and the collector inside a pytest run (pytester)."""

from __future__ import annotations

import base64
import json
import re
import struct
from pathlib import Path

import pytest

from pytest_k8sdistro.distros.registry import get_profile
from pytest_k8sdistro.report import __main__ as cli
from pytest_k8sdistro.report import html, markdown, model
from pytest_k8sdistro.report.chart import memory_chart_png
from pytest_k8sdistro.report.write import append_step_summary, write

K3S = "k3s v1.36.5+k3s1"
K0S = "k0s v1.36.3+k0s.2"


def _entry(distro: str, version: str, base: float) -> model.Entry:
    entry = model.new_entry(distro, version)
    entry["requirements"] = {"memory_min_mib": 512, "memory_idle_max_mib": 1024, "disk_max_mb": 400}
    entry["claims"] = {"dns": "coredns"}
    props = {
        "footprint.memory.empty.min_mib": base - 5,
        "footprint.memory.empty.median_mib": base,
        "footprint.memory.empty.max_mib": base + 5,
        "footprint.memory.empty.window_s": 30.0,
        "footprint.memory.app.median_mib": base + 100,
        "footprint.memory.app.min_mib": base + 90,
        "footprint.memory.app.max_mib": base + 110,
        "footprint.ready.nodes Ready": 12.5,
        "footprint.info.time_to_ready_from": "the node container's start",
        "footprint.disk.install_bytes": 212_000_000,
        "footprint.disk.image_bytes": 70_000_000,
        "footprint.disk.path:/var/lib/rancher/k3s": 150_000_000,
        "footprint.memory_threshold.limit_mib": 1024,
        "footprint.memory_threshold.measured_mib": base,
        "footprint.memory_threshold.passed": True,
        "footprint.fits.limit_mib": 512,
        "footprint.fits.ready": False,
        "footprint.fits.detail": "not Ready under 512 MiB",
    }
    for key, value in props.items():
        assert model.apply_property(entry, key, value)
    assert not model.apply_property(entry, "ipv6", "dual-stack")
    model.add_test(entry, "suites/test_dns.py::test_a[x]", "passed", "", {})
    model.add_test(entry, "suites/test_dns.py::test_b[x]", "failed", "boom", {"ipv6": "x"})
    model.add_test(
        entry,
        "suites/test_upgrade.py::test_upgrade_in_place[x]",
        "passed",
        "",
        {"k8sdistro_upgrade": {"from_version": "a", "to_version": "b", "verdict": "no downtime"}},
    )
    return entry


def _report() -> model.Report:
    report = model.new_report("job-1")
    report["distros"] = {
        K3S: _entry("k3s", "v1.36.5+k3s1", 300),
        K0S: _entry("k0s", "v1.36.3+k0s.2", 250),
    }
    return report


def test_properties_land_in_their_sections() -> None:
    entry = _entry("k3s", "v1", 300)
    assert entry["memory"]["empty"]["median_mib"] == 300
    assert entry["time_to_ready"] == {"nodes Ready": 12.5}
    assert entry["time_to_ready_from"] == "the node container's start"
    assert entry["disk"]["paths"] == {"/var/lib/rancher/k3s": 150_000_000}
    assert entry["suites"]["dns"]["failed"] == 1
    assert entry["upgrade"]["passed"] == 1


def test_markdown_has_the_blog_tables_with_every_figure() -> None:
    text = markdown.render(_report())
    for heading in (
        "Requirements",
        "Time to ready",
        "Features found",
        "Memory per tier",
        "Disk",
        "Upgrade",
    ):
        assert f"## {heading}" in text
    assert f"|  | {K3S} | {K0S} |" in text
    assert "| empty | 300 MiB (295\u2013305) | 250 MiB (245\u2013255) |" in text
    assert "| nodes Ready | 12.5 s | 12.5 s |" in text
    assert "| Install (binary, data dir, unpacked images) | 212.0 MB | 212.0 MB |" in text
    assert "| DNS | coredns: ✗ 1 of 2 failed |" in text
    assert "no: not Ready under 512 MiB" in text
    assert "a -> b: no downtime" in text
    assert "Go runtimes grow into free memory" in text  # no --distro-node-memory was recorded


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_html_embeds_the_chart_and_the_tables(tmp_path: Path) -> None:
    page = html.render(_report())
    assert "<h2>Memory per tier</h2>" in page and "<td>212.0 MB</td>" in page
    match = re.search(
        r'id="memory-chart" alt="Memory per tier" src="data:image/png;base64,([^"]+)"', page
    )
    assert match is not None
    png = base64.b64decode(match.group(1))
    width, height = _png_size(png)
    assert width > 400 and height > 300
    (tmp_path / "chart.png").write_bytes(png)


def test_no_chart_without_memory() -> None:
    report = model.new_report()
    report["distros"] = {K3S: model.new_entry("k3s", "v1")}
    assert memory_chart_png(report) is None
    assert "no memory tier was measured" in html.render(report)


def test_merge_combines_jobs_of_one_distribution() -> None:
    first = model.new_report("job-1")
    first["distros"] = {K3S: _entry("k3s", "v1.36.5+k3s1", 300)}
    second = model.new_report("job-2")
    later = model.new_entry("k3s", "v1.36.5+k3s1")
    model.apply_property(later, "footprint.memory.utilities.median_mib", 350)
    model.add_test(later, "suites/test_dns.py::test_b[x]", "passed", "", {})
    model.add_test(later, "suites/test_storage.py::test_c[x]", "skipped", "no storage", {})
    second["distros"] = {K3S: later, K0S: _entry("k0s", "v1.36.3+k0s.2", 250)}
    merged = model.merge([first, second])
    k3s = merged["distros"][K3S]
    assert merged["sources"] == ["job-1", "job-2"]
    assert set(k3s["memory"]) == {"empty", "app", "utilities"}
    assert k3s["memory"]["empty"]["median_mib"] == 300  # not lost to an empty later entry
    assert k3s["suites"]["dns"]["failed"] == 0 and k3s["suites"]["dns"]["passed"] == 2
    assert k3s["suites"]["storage"]["skipped"] == 1
    assert k3s["upgrade"]["passed"] == 1
    assert set(merged["distros"]) == {K3S, K0S}
    with pytest.raises(ValueError, match="not a pytest-k8sdistro-report/1"):
        model.merge([{"format": "other"}])


def test_merge_command_writes_all_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    report = _report()
    one, two = model.new_report("a"), model.new_report("b")
    one["distros"] = {K3S: report["distros"][K3S]}
    two["distros"] = {K0S: report["distros"][K0S]}
    a.write_text(model.dump(one))
    b.write_text(model.dump(two))
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        assert (
            cli.main(["merge", str(a), str(b), "-o", str(tmp_path / "all"), "--step-summary"]) == 0
        )
    out = capsys.readouterr().out.split()
    assert out == [str(tmp_path / f"all.{fmt}") for fmt in ("md", "json", "html")]
    merged = json.loads((tmp_path / "all.json").read_text())
    assert set(merged["distros"]) == {K3S, K0S}
    assert summary.read_text().startswith("earlier step\n# Kubernetes distributions compared")
    assert cli.main(["merge", str(tmp_path / "missing.json"), "-o", str(tmp_path / "x")]) == 2


def test_write_by_suffix_and_step_summary_only_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert write(_report(), tmp_path / "r.md") == [tmp_path / "r.md"]
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert append_step_summary(_report()) is None


PLUGIN_TEST = """
import pytest

def test_figures(k8sdistro_spec, record_property):
    record_property("footprint.memory.empty.median_mib", 123.0)
    record_property("footprint.disk.install_bytes", 5000000)
    record_property("footprint.ready.nodes Ready", 3.5)
    record_property("note", "kept")

@pytest.mark.skip(reason="nothing to see")
def test_skipped(k8sdistro_spec):
    pass
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_the_collector_gathers_properties_in_the_controller(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    pytester.makepyfile(test_dns=PLUGIN_TEST)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        "--distro=k3s",
        "--distro-report=out/report",
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit1",
        *workers,
    )
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["*k8sdistro: report written to*report.md*report.json*report.html*"]
    )
    report = json.loads((pytester.path / "out" / "report.json").read_text())
    entry = report["distros"][K3S]
    assert entry["memory"]["empty"]["median_mib"] == 123.0
    assert entry["disk"]["install_bytes"] == 5000000
    assert entry["time_to_ready"] == {"nodes Ready": 3.5}
    # The profile's documented minimum for the version under test.
    assert entry["requirements"]["memory_min_mib"] == get_profile("k3s").expectations.memory_min_mib
    dns = entry["suites"]["dns"]
    assert (dns["passed"], dns["skipped"]) == (1, 1)
    assert {t["name"]: t.get("message") for t in dns["tests"]}[
        "test_skipped[k3s-v1.36]"
    ] == "nothing to see"
    assert (
        '<property name="footprint.memory.empty.median_mib" value="123.0" />' in junit.read_text()
    )
    assert "123 MiB" in (pytester.path / "out" / "report.md").read_text()


def test_the_memory_table_says_which_method_each_figure_used() -> None:
    report = model.new_report()
    for distro, method in (("k3s", "MemTotal - MemAvailable"), ("k0s", "cgroup working set")):
        entry = model.new_entry(distro, "v1")
        for field, value in (("median_mib", 500.0), ("min_mib", 490), ("max_mib", 510)):
            model.apply_property(entry, f"footprint.memory.empty.{field}", value)
        model.apply_property(entry, "footprint.memory.empty.method", method)
        report["distros"][model.entry_key(distro, "v1")] = entry
    entry = model.new_entry("microk8s", "v1")  # a report from before methods were recorded
    model.apply_property(entry, "footprint.memory.empty.median_mib", 700.0)
    report["distros"][model.entry_key("microk8s", "v1")] = entry
    text = markdown.render(report)
    method_row = next(line for line in text.splitlines() if line.startswith("| Method"))
    cells = [cell.strip() for cell in method_row.strip("|").split("|")]
    assert cells == ["Method", "MemTotal - MemAvailable", "cgroup working set", markdown.NONE]


def _logreport(nodeid: str, path: str) -> pytest.TestReport:
    return pytest.TestReport(nodeid, (path, 1, "test_x"), {}, "passed", None, "call")


def test_a_module_named_with_pyargs_outside_the_rootdir_keeps_its_suite() -> None:
    from pytest_k8sdistro.plugin.collector import node_id_of

    # `pytest --pyargs pytest_k8sdistro.suites.test_dns` run from elsewhere: the node id
    # has no file, the location has the path from the rootdir.
    outside = _logreport("::test_x[k3s-v1.36]", "../venv/site-packages/suites/test_dns.py")
    assert node_id_of(outside) == "../venv/site-packages/suites/test_dns.py::test_x[k3s-v1.36]"
    assert model.suite_of(node_id_of(outside)) == "dns"
    inside = _logreport("suites/test_dns.py::test_x[k3s-v1.36]", "suites/test_dns.py")
    assert node_id_of(inside) == "suites/test_dns.py::test_x[k3s-v1.36]"
