"""Footprint: time to ready, memory per tier, the idle threshold, "fits in N", disk.

Figures go into the test's ``record_property`` as ``footprint.*`` (JUnit XML
properties), which ``--distro-report`` gathers into the comparison report.

- **Time to ready**: seconds from the node container's start to each readiness
  stage (from the start of provisioning where the node's start is unknown).
- **Memory per tier** (``--distro-memory-tiers``, ``--distro-settle-seconds``): the tiers of
  ``fixtures/footprint/`` deployed cumulatively into one namespace; after each has
  settled, the nodes' memory is sampled over the window (min/median/max). Container
  nodes: the cgroup working set read on the host; machines and VMs: MemTotal -
  MemAvailable of /proc/meminfo inside them. Each tier records which (``method``).
- **Idle threshold**: the first tier's median against ``--distro-memory-max`` or the
  profile's ``memory_idle_max_mib``; a failure names both figures.
- **Fits in N**: a second, single-node cluster under a memory limit equal to the
  profile's ``memory_min_mib`` must become Ready and serve a web page.
- **Disk**: the bytes of the install inside the server node against ``disk_max_mb``,
  and the node image's size.

The memory tiers and the idle threshold are measured on a cluster of their own,
started beside the run's for them, so other suites' pods are never counted, with
``-n N`` too; the report says so. Time to ready and disk are the run's cluster's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Any

import pytest

from pytest_k8sdistro.suite import (
    TIERS,
    Cluster,
    ClusterUnavailable,
    Distro,
    DistroSpec,
    FootprintSettings,
    Kube,
    NodesMemory,
    NotMeasurable,
    Provisioner,
    RunIdentity,
    Summary,
    TierRun,
    Timeouts,
    Workloads,
    api_client,
    disk_of,
    expect,
    fail,
    memory_of,
    namespaces,
    sample,
    suite_manifests,
    time_to_ready,
)

pytestmark = pytest.mark.xdist_group("k8sdistro-footprint")

MIB = 1024 * 1024
Record = Callable[[str, object], None]
#: How the memory figures were kept free of other tests' pods, for the report.
ISOLATION = "a cluster of its own, started for the measurements, with no other test's pods"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "tier" in metafunc.fixturenames:
        tiers = metafunc.config.getoption("memory_tiers") or ()
        names = [t.name for t in tiers] or list(TIERS)
        metafunc.parametrize("tier", names)


@pytest.fixture(scope="session")
def footprint(k8sdistro_footprint: FootprintSettings) -> FootprintSettings:
    return k8sdistro_footprint


@pytest.fixture(scope="session")
def measured_cluster(
    cluster: Cluster,
    k8sdistro_provisioner: Provisioner,
    k8sdistro_other_cluster: Callable[..., AbstractContextManager[Cluster]],
    k8sdistro_spec: DistroSpec,
) -> Iterator[Cluster]:
    """The cluster the memory tiers are measured on: one of their own, so that no other
    test's pods are counted, whatever runs beside them (``-n N`` included).

    It asks for the run's cluster first: when that could not be had, a second start
    would only repeat the cause. A cluster the run did not start (``--distro-kubeconfig``)
    cannot be measured, and the tests say so.
    """
    if not k8sdistro_provisioner.CAPABILITIES.measurable:
        yield cluster  # memory_of says why nothing is measured
        return
    with k8sdistro_other_cluster(k8sdistro_spec) as own:
        yield own


@pytest.fixture(scope="session")
def node_memory(k8sdistro_provisioner: Provisioner, measured_cluster: Cluster) -> NodesMemory:
    try:
        return memory_of(k8sdistro_provisioner, measured_cluster)
    except NotMeasurable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def tiers(
    k8sdistro_run: RunIdentity,
    measured_cluster: Cluster,
    node_memory: NodesMemory,
    footprint: FootprintSettings,
    suite_image: str,
    suite_timeouts: Timeouts,
) -> Iterator[TierRun]:
    """The tiers' namespace on the measured cluster, shared by the tests of this module
    in one process, deleted at the end."""
    api = api_client(measured_cluster.kubeconfig)
    kube = Kube(api)
    run_id = k8sdistro_run.run_id
    name = namespaces.create(kube, namespaces.name_for("footprint"), run_id)
    try:
        yield TierRun(
            kube,
            name,
            node_memory.read,
            fixtures=suite_manifests() / "footprint",
            image=suite_image,
            settle_s=footprint.settle_s,
            timeout=2 * suite_timeouts.wait,
            source=node_memory.source,
        )
    finally:
        namespaces.delete(kube, name)
        api.close()  # type: ignore[no-untyped-call]


def _recorder(record_property: Any, section: str) -> Record:
    def record(field: str, value: object) -> None:
        record_property(f"footprint.{section}.{field}", value)

    return record


def _describe(summary: Summary) -> str:
    return (
        f"{summary.mib('median')} MiB median (min {summary.mib('min')}, max "
        f"{summary.mib('max')}) over {summary.window_s:.0f} s, {summary.samples} samples"
    )


def test_time_to_ready(
    k8sdistro_provisioner: Provisioner, cluster: Cluster, record_property: Any
) -> None:
    if not cluster.created or not cluster.timings:
        pytest.skip("this run did not start the cluster, so it did not see it become ready")
    ready = time_to_ready(k8sdistro_provisioner, cluster)
    shifted = ready != cluster.timings
    record_property(
        "footprint.info.time_to_ready_from",
        "the node container's start" if shifted else "the start of provisioning",
    )
    for stage, seconds in ready.items():
        record_property(f"footprint.ready.{stage}", seconds)
    expect(
        all(seconds >= 0 for seconds in ready.values()),
        "a readiness stage was passed before the node started",
        expected="seconds >= 0 for every stage",
        found=str(ready),
    )


def test_idle_memory_under_threshold(
    distro: Distro,
    tiers: TierRun,
    footprint: FootprintSettings,
    record_property: Any,
) -> None:
    record_property("footprint.info.memory_isolation", ISOLATION)
    first = footprint.tiers[0].name
    summary = tiers.measure(footprint.tiers, first)
    if footprint.memory_max is not None:
        limit_mib, origin = footprint.memory_max / MIB, "--distro-memory-max"
    else:
        limit_mib, origin = float(distro.expectations.memory_idle_max_mib), "profile"
    measured = summary.mib("median")
    passed = measured <= limit_mib
    record = _recorder(record_property, "memory_threshold")
    record("limit_mib", round(limit_mib, 1))
    record("measured_mib", measured)
    record("from", origin)
    record("tier", first)
    record("passed", passed)
    expect(
        passed,
        f"idle memory of {distro.name} {distro.version} is above the threshold",
        expected=f"at most {limit_mib:.1f} MiB ({origin}) with tier {first!r} deployed",
        found=f"{measured} MiB: {_describe(summary)}",
        evidence=f"source: {summary.source}",
    )


def test_memory_tier(
    tier: str,
    tiers: TierRun,
    node_memory: NodesMemory,
    footprint: FootprintSettings,
    record_property: Any,
) -> None:
    record_property("footprint.info.memory_isolation", ISOLATION)
    summary = tiers.measure(footprint.tiers, tier)
    record = _recorder(record_property, f"memory.{tier}")
    for statistic in ("min", "median", "max"):
        record(f"{statistic}_mib", summary.mib(statistic))
    record("samples", summary.samples)
    record("window_s", summary.window_s)
    record("cpu_per_sample_ms", round(summary.cpu_per_sample_s * 1000, 3))
    record("source", summary.source)
    record("method", node_memory.method)


def test_disk_footprint(
    k8sdistro_provisioner: Provisioner, distro: Distro, cluster: Cluster, record_property: Any
) -> None:
    try:
        usage = disk_of(k8sdistro_provisioner, cluster)
    except NotMeasurable as exc:
        pytest.skip(str(exc))
    record = _recorder(record_property, "disk")
    limit = distro.expectations.disk_max_mb
    passed = usage.install_bytes <= limit * 1_000_000
    record("install_bytes", usage.install_bytes)
    record("image_bytes", usage.image_bytes)
    record("files", usage.files)
    record("limit_mb", limit)
    record("passed", passed)
    for path, size in usage.paths.items():
        record(f"path:{path}", size)
    expect(
        len(usage.missing) < len(usage.paths),
        f"no file of {distro.name}'s install was found in the node",
        expected=f"files under {', '.join(usage.paths)}",
        found="none of these paths exists",
    )
    expect(
        passed,
        f"{distro.name} {distro.version} takes more disk than its threshold",
        expected=f"at most {limit} MB (disk_max_mb) for the install",
        found=f"{usage.install_bytes / 1e6:.1f} MB in {usage.files} files",
        evidence="\n".join(f"{p}: {b / 1e6:.1f} MB" for p, b in usage.paths.items()),
    )


# -- fits in N ------------------------------------------------------------------------


@dataclasses.dataclass
class Limited:
    limit: int
    cluster: Cluster | None
    error: str = ""


@pytest.fixture(scope="session")
def limited_cluster(
    cluster: Cluster,
    k8sdistro_provisioner: Provisioner,
    k8sdistro_other_cluster: Callable[..., AbstractContextManager[Cluster]],
    k8sdistro_spec: DistroSpec,
    distro: Distro,
) -> Iterator[Limited]:
    """A second cluster of the distribution, under its documented minimum memory.

    Made and removed through the run's provisioner, with the memory limit; never the
    run's cluster. It asks for the run's cluster first: only when the distribution
    started here without a limit does a start under the limit say anything about
    the limit (otherwise the test could not test it, and says so).
    """
    capabilities = k8sdistro_provisioner.CAPABILITIES
    if not capabilities.starts_clusters:
        pytest.skip("--distro-kubeconfig tests a running cluster; this check boots one of its own")
    if not capabilities.limits_memory:
        pytest.skip(
            f"the {k8sdistro_provisioner.NAME} provisioner cannot limit a node's memory "
            "(--distro-node-memory)"
        )
    limit = distro.expectations.memory_min_mib * MIB
    with ExitStack() as stack:
        try:
            found = stack.enter_context(
                k8sdistro_other_cluster(k8sdistro_spec, node_memory=limit, nodes=1)
            )
        except ClusterUnavailable as exc:
            yield Limited(limit, None, exc.cause)
            return
        yield Limited(limit, found)


def test_fits_in_documented_minimum(
    distro: Distro,
    limited_cluster: Limited,
    suite_image: str,
    suite_timeouts: Timeouts,
    record_property: Any,
    k8sdistro_provisioner: Provisioner,
    k8sdistro_run: RunIdentity,
) -> None:
    limit_mib = limited_cluster.limit // MIB
    record = _recorder(record_property, "fits")
    record("limit_mib", limit_mib)
    cluster = limited_cluster.cluster
    if cluster is None:
        record("ready", False)
        record("serves", False)
        record("detail", f"not Ready under {limit_mib} MiB")
        fail(
            f"{distro.name} {distro.version} does not run in its documented minimum memory",
            expected=f"Ready under a {limit_mib} MiB limit (memory_min_mib)",
            found="the cluster did not become ready",
            evidence=limited_cluster.error,
        )
    record("ready", True)
    api = api_client(cluster.kubeconfig)
    kube = Kube(api)
    name = namespaces.create(kube, namespaces.name_for("fits"), k8sdistro_run.run_id)
    try:
        work = Workloads(kube, name, suite_image, suite_timeouts)
        pod = work.web("fits")
        work.fetch(
            "fits-client",
            f"http://{pod.status.pod_ip}:8080/",
            expected="web:fits",
            what=f"a web pod does not serve under {limit_mib} MiB",
        )
        record("serves", True)
        try:
            summary = sample(memory_of(k8sdistro_provisioner, cluster).read, 5.0)
            record("measured_mib", summary.mib("median"))
        except NotMeasurable:
            pass
        record("detail", "Ready and serving")
    finally:
        namespaces.delete(kube, name)
        api.close()
