"""Footprint pieces without an engine: cgroup files (v1 and v2), meminfo, the sampler,
tar totals, options and node readers chosen by provisioner."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_k8sdistro.config.footprint import memory_tiers, report_paths, settle_seconds
from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.errors import NotMeasurable
from pytest_k8sdistro.measure.footprint import (
    disk,
    memory,
    nodes,
    sampler,
)
from pytest_k8sdistro.model.cluster import Cluster, Node, RunIdentity
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners.docker import provisioner as docker_provisioner
from pytest_k8sdistro.provisioners.existing import ExistingCluster
from pytest_k8sdistro.provisioners.machine.base import MachineProvisioner

MIB = 1024 * 1024
CID = "ab84f5ce59e1" + "0" * 52


def _cgroup_v1(tmp_path: Path) -> tuple[Path, Path]:
    root, proc = tmp_path / "cgroup", tmp_path / "proc"
    group = root / "memory" / "docker" / CID
    group.mkdir(parents=True)
    (group / "memory.usage_in_bytes").write_text(f"{300 * MIB}\n")
    (group / "memory.stat").write_text(
        f"cache 999\ninactive_file {5 * MIB}\ntotal_inactive_file {50 * MIB}\n"
    )
    (proc / "42").mkdir(parents=True)
    (proc / "42" / "cgroup").write_text(
        f"12:memory:/docker/{CID}\n11:cpu,cpuacct:/docker/{CID}\n0::/docker/{CID}\n"
    )
    return root, proc


def _cgroup_v2(tmp_path: Path) -> tuple[Path, Path]:
    root, proc = tmp_path / "cgroup", tmp_path / "proc"
    scope = root / "system.slice" / f"docker-{CID}.scope"
    (scope / "init").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    (scope / "memory.current").write_text(f"{400 * MIB}\n")
    (scope / "memory.stat").write_text(f"anon {300 * MIB}\ninactive_file {100 * MIB}\n")
    (proc / "42").mkdir(parents=True)
    # The supervisor moved PID 1 into init/ (cgroup v2 nesting).
    (proc / "42" / "cgroup").write_text(f"0::/system.slice/docker-{CID}.scope/init\n")
    return root, proc


def test_v1_working_set_is_usage_minus_total_inactive_file(tmp_path: Path) -> None:
    root, proc = _cgroup_v1(tmp_path)
    group = memory.container_cgroup(42, CID, root=root, proc=proc)
    assert group.version == 1
    assert group.path == root / "memory" / "docker" / CID
    assert group.read() == 250 * MIB


def test_v2_working_set_is_the_container_scope_not_its_init_child(tmp_path: Path) -> None:
    root, proc = _cgroup_v2(tmp_path)
    group = memory.container_cgroup(42, CID, root=root, proc=proc)
    assert group.version == 2
    assert group.path.name == f"docker-{CID}.scope"
    assert group.read() == 300 * MIB


def test_a_cgroup_not_named_after_the_container_is_refused(tmp_path: Path) -> None:
    root, proc = _cgroup_v1(tmp_path)
    with pytest.raises(memory.MeasurementError, match="not named after the container"):
        memory.container_cgroup(42, "f" * 64, root=root, proc=proc)


def test_working_set_never_negative() -> None:
    assert memory.working_set(10, {"inactive_file": 20}, 2) == 0


def test_outermost_drops_nested_cgroups(tmp_path: Path) -> None:
    a = memory.Cgroup(tmp_path / "kubepods", 1)
    b = memory.Cgroup(tmp_path / "kubepods" / "pod1", 1)
    c = memory.Cgroup(tmp_path / "other", 1)
    assert sorted(g.path.name for g in memory.outermost([b, c, a, b])) == ["kubepods", "other"]


def test_meminfo_used_is_total_minus_available() -> None:
    text = "MemTotal:  4000000 kB\nMemFree:  1000 kB\nMemAvailable:  3000000 kB\n"
    assert memory.meminfo_used(text) == 1000000 * 1024
    with pytest.raises(memory.MeasurementError, match="MemAvailable"):
        memory.meminfo_used("MemTotal: 1 kB\n")


def test_nodes_memory_sums_nodes_and_keeps_the_last_figures() -> None:
    class Fixed:
        def __init__(self, value: int) -> None:
            self.value = value
            self.source = f"fixed {value}"
            self.method = memory.METHOD_MEMINFO if value == 1 else memory.METHOD_CGROUP

        def read(self) -> int:
            return self.value

    total = memory.NodesMemory({"a": Fixed(1), "b": Fixed(2)})
    assert total.read() == 3
    assert total.last == {"a": 1, "b": 2}
    assert "a: fixed 1" in total.source
    assert total.method == "MemTotal - MemAvailable + cgroup working set"
    machine = memory.MeminfoMemory(lambda: "MemTotal: 2 kB\nMemAvailable: 1 kB\n", "ssh://vm")
    assert memory.NodesMemory({"vm": machine}).method == memory.METHOD_MEMINFO


def test_sampler_reports_min_median_max_over_the_window() -> None:
    now = [0.0]
    values = iter([5, 1, 9, 3, 7, 2])

    def sleep(seconds: float) -> None:
        now[0] += seconds

    summary = sampler.sample(
        lambda: next(values), 5.0, interval_s=1.0, clock=lambda: now[0], sleep=sleep
    )
    assert (summary.min, summary.median, summary.max, summary.samples) == (1, 4, 9, 6)
    assert summary.window_s == 5.0


def test_sampler_interval_bounds() -> None:
    assert sampler.interval_for(1) == 0.2
    assert sampler.interval_for(30) == 1.0
    assert sampler.interval_for(600) == 2.0


def _tar(members: list[tuple[str, bytes | None, str | None]]) -> bytes:
    """(name, data or None for a directory, link target for a symlink / hard link)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link is not None and link.startswith("hard:"):
                info.type, info.linkname = tarfile.LNKTYPE, link[5:]
            elif link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
            elif data is None:
                info.type = tarfile.DIRTYPE
            else:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data or b""))
    return buffer.getvalue()


def test_tar_totals_count_regular_files_and_hard_links_once() -> None:
    data = _tar(
        [
            ("d", None, None),
            ("d/a", b"x" * 1000, None),
            ("d/b", b"y" * 24, None),
            ("d/a-again", None, "hard:d/a"),
            ("d/link", None, "a"),
        ]
    )
    chunks = [data[i : i + 333] for i in range(0, len(data), 333)]
    totals = disk.tar_totals(chunks)
    assert (totals.bytes, totals.files, totals.link_to) == (1024, 2, None)


def test_a_lone_symlink_is_followed() -> None:
    class Container:
        def __init__(self) -> None:
            self.asked: list[str] = []

        def get_archive(self, path: str) -> tuple[list[bytes], dict[str, object]]:
            self.asked.append(path)
            if path == "/bin/k3s":
                return [_tar([("k3s", None, "../usr/bin/k3s-real")])], {}
            return [_tar([("k3s-real", b"z" * 77, None)])], {}

    container = Container()
    totals = disk.container_path_totals(container, "/bin/k3s")
    assert totals is not None and totals.bytes == 77
    assert container.asked == ["/bin/k3s", "/usr/bin/k3s-real"]


def test_du_output_parsing_and_install_paths() -> None:
    usage = disk.parse_du("1234\t/usr/local/bin/k3s\n", ["/usr/local/bin/k3s", "/var/lib/x"])
    assert usage.install_bytes == 1234
    assert usage.missing == ("/var/lib/x",)

    class Machine(MachineProvisioner):
        NAME = "a-machine"

        def target(self, key: str, *, creating: bool) -> Any:
            raise AssertionError("not reached")

    cluster = Cluster(
        key="k", distro="k0s", version="v1", provisioner="a-machine", kubeconfig="", api_server=""
    )
    cluster.nodes.append(Node(name="m", role="server", host_spec="ssh://m"))
    asked: list[str] = []

    class Host:
        def run(self, command: str) -> Any:
            asked.append(command)
            return SimpleNamespace(stdout="5\t/usr/local/bin/k0s\n7\t/var/lib/k0s\n")

    machine = Machine(Settings(), RunIdentity.new(), Path("/nonexistent"), Progress())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nodes, "_testinfra_host", lambda spec: Host())
        found = nodes.disk_of(machine, cluster)
    # The profile's binary and data directory, measured with du on the machine.
    assert found.paths == {"/usr/local/bin/k0s": 5, "/var/lib/k0s": 7}
    assert "'/usr/local/bin/k0s' '/var/lib/k0s'" in asked[0]


def test_tier_option_takes_names_and_manifest_paths(tmp_path: Path) -> None:
    own = tmp_path / "real-exporter.yaml"
    own.write_text("kind: List\n")
    tiers = memory_tiers(f"empty,{own}")
    assert [t.name for t in tiers] == ["empty", "real-exporter"]
    assert tiers[1].path == own.resolve()
    with pytest.raises(pytest.UsageError, match="not a tier; known: empty"):
        memory_tiers("empty,bogus")
    with pytest.raises(pytest.UsageError, match="no such file"):
        memory_tiers(str(tmp_path / "missing.yaml"))
    with pytest.raises(pytest.UsageError, match="distinct"):
        memory_tiers("empty,empty")


def test_settle_seconds_and_report_paths() -> None:
    assert settle_seconds("2.5") == 2.5
    with pytest.raises(pytest.UsageError, match="--distro-settle-seconds"):
        settle_seconds("0")
    assert report_paths(Path("out/r.json")) == {"json": Path("out/r.json")}
    assert report_paths(Path("out/r")) == {
        "md": Path("out/r.md"),
        "json": Path("out/r.json"),
        "html": Path("out/r.html"),
    }


def test_a_kubeconfig_cluster_is_not_measured() -> None:
    cluster = Cluster(
        key="k", distro="k3s", version="v1", provisioner="existing", kubeconfig="", api_server=""
    )
    existing = ExistingCluster(Settings(), RunIdentity.new(), Path("/nonexistent"), Progress())
    with pytest.raises(NotMeasurable, match="--distro-kubeconfig"):
        nodes.memory_of(existing, cluster)
    with pytest.raises(NotMeasurable, match="--distro-kubeconfig"):
        nodes.disk_of(existing, cluster)
    assert nodes.time_to_ready(existing, cluster) == cluster.timings


def test_docker_timestamps() -> None:
    assert docker_provisioner._epoch("1970-01-01T00:01:00.5Z") == 60.5
    assert docker_provisioner._epoch("nonsense") is None
