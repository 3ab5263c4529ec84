"""End to end on a real engine: ``--distro-ip-family=dual`` and ``--distro-datastore`` start the
cluster they promise, the suites that depend on them pass against the stand-ins,
and nothing labelled stays behind."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest
from docker_fixtures import of_cluster, own_tag, remove_cluster
from image.specs import StandinImages

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parent.parent

ADDRESSES_TEST = """
import ipaddress

import docker


def test_nodes_and_network_are_dual_stack(kube, cluster):
    for node in kube.core.list_node().items:
        internal = [a.address for a in node.status.addresses if a.type == "InternalIP"]
        versions = sorted(ipaddress.ip_address(a).version for a in internal)
        assert versions == [4, 6], (node.metadata.name, internal)
        assert len(node.spec.pod_cidrs) == 2, node.spec.pod_cidrs
    network = docker.from_env().networks.get(cluster.details["network"])
    assert network.attrs["EnableIPv6"] is True
    print("CLUSTER-KEY", cluster.key)
"""


def tag(engine: docker.DockerClient, source: str, name: str) -> str:
    return own_tag(engine, source, f"shape-{name}")


def cluster_key(result: pytest.RunResult) -> str:
    for line in result.stdout.lines + result.stderr.lines:
        if "removing cluster " in line:
            return line.split("removing cluster ")[1].split()[0]
    raise AssertionError("the run never removed a cluster:\n" + result.stderr.str()[-2000:])


@pytest.mark.parametrize("distro", ["k3s", "k0s"])
def test_dual_stack_cluster_passes_the_ipv6_suite(
    pytester: pytest.Pytester,
    engine: docker.DockerClient,
    standin_images: StandinImages,
    alias: dict[str, str],
    distro: str,
) -> None:
    ref = alias[distro] = tag(engine, standin_images.for_distro(distro).ref, distro)
    pytester.makepyfile(test_addresses=ADDRESSES_TEST)
    result = pytester.runpytest_subprocess(
        str(ROOT / "suites" / "test_ipv6.py"),
        str(pytester.path / "test_addresses.py"),
        f"--rootdir={ROOT}",
        f"--distro={distro}",
        f"--distro-image={ref}",
        "--distro-ip-family=dual",
        "--distro-ready-timeout=180",
        "-p",
        "no:cacheprovider",
        "-rA",
    )
    result.assert_outcomes(passed=2)
    result.stderr.fnmatch_lines(["*dual-stack network k8sdistro-* (IPv6 fd*::/64)*"])
    assert of_cluster(engine, cluster_key(result)) == []


def test_single_stack_run_says_how_to_check_ipv6(
    pytester: pytest.Pytester,
    engine: docker.DockerClient,
    standin_images: StandinImages,
    alias: dict[str, str],
) -> None:
    ref = alias["k3s"] = tag(engine, standin_images.k3s.ref, "k3s")
    result = pytester.runpytest_subprocess(
        str(ROOT / "suites" / "test_ipv6.py"),
        f"--rootdir={ROOT}",
        "--distro=k3s",
        f"--distro-image={ref}",
        "--distro-ready-timeout=180",
        "-p",
        "no:cacheprovider",
        "-rs",
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*started single-stack; run with --distro-ip-family=dual*"])


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_k3s_keeps_its_objects_in_the_database_started_beside_it(
    pytester: pytest.Pytester,
    engine: docker.DockerClient,
    standin_images: StandinImages,
    alias: dict[str, str],
    kind: str,
) -> None:
    ref = alias["k3s"] = tag(engine, standin_images.k3s.ref, "k3s")
    database = alias[kind] = tag(engine, getattr(standin_images, kind).ref, kind)
    result = pytester.runpytest_subprocess(
        str(ROOT / "suites" / "test_datastore.py"),
        f"--rootdir={ROOT}",
        "--distro=k3s",
        f"--distro-image={ref}",
        f"--distro-datastore={kind}",
        f"--distro-datastore-image={database}",
        "--distro-ready-timeout=180",
        "-p",
        "no:cacheprovider",
        "-rA",
    )
    result.assert_outcomes(passed=2)
    result.stderr.fnmatch_lines([f"*{kind} in k8sdistro-*-datastore ready after*"])
    key = cluster_key(result)
    # The database container and its volume are the cluster's, and go with it.
    assert of_cluster(engine, key) == []


def test_expecting_another_database_fails_naming_both(
    pytester: pytest.Pytester,
    engine: docker.DockerClient,
    standin_images: StandinImages,
    alias: dict[str, str],
) -> None:
    ref = alias["k3s"] = tag(engine, standin_images.k3s.ref, "k3s")
    database = alias["postgres"] = tag(engine, standin_images.postgres.ref, "postgres")
    expect = pytester.path / "expect.yaml"
    expect.write_text("k3s:\n  datastore: mysql\n")
    result = pytester.runpytest_subprocess(
        str(ROOT / "suites" / "test_datastore.py"),
        f"--rootdir={ROOT}",
        "--distro=k3s",
        f"--distro-image={ref}",
        "--distro-datastore=postgres",
        f"--distro-datastore-image={database}",
        f"--distro-expect={expect}",
        "--distro-ready-timeout=180",
        "-p",
        "no:cacheprovider",
        "-k",
        "external",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the cluster runs on a database the expectations do not name*",
            "*expected: datastore mysql*",
            f"*found:*postgres ({database})*",
        ]
    )


@pytest.mark.parametrize("distro", ["k3s", "k0s"])
def test_two_nodes_take_pods_and_serve_their_logs(
    pytester: pytest.Pytester,
    engine: docker.DockerClient,
    standin_images: StandinImages,
    alias: dict[str, str],
    distro: str,
) -> None:
    ref = alias[distro] = tag(engine, standin_images.for_distro(distro).ref, distro)
    result = pytester.runpytest_subprocess(
        str(ROOT / "suites" / "test_multinode.py"),
        str(ROOT / "suites" / "test_dns.py"),
        f"--rootdir={ROOT}",
        f"--distro={distro}",
        f"--distro-image={ref}",
        "--distro-nodes=2",
        "--distro-ready-timeout=180",
        "-p",
        "no:cacheprovider",
        "-rA",
    )
    result.assert_outcomes(passed=5)
    result.stderr.fnmatch_lines(["*1 agent node(s) started*"])
    assert of_cluster(engine, cluster_key(result)) == []


def test_a_kept_cluster_whose_database_is_gone_is_replaced(
    pytester: pytest.Pytester,
    engine: docker.DockerClient,
    standin_images: StandinImages,
    alias: dict[str, str],
) -> None:
    ref = alias["k3s"] = tag(engine, standin_images.k3s.ref, "k3s")
    database = alias["postgres"] = tag(engine, standin_images.postgres.ref, "postgres")
    pytester.makepyfile(
        test_store="def test_store(cluster):\n    print('DB', cluster.datastore.host_spec)\n"
    )
    args = [
        "--distro=k3s",
        f"--distro-image={ref}",
        "--distro-datastore=postgres",
        f"--distro-datastore-image={database}",
        "--distro-ready-timeout=180",
        "-s",
    ]
    kept = pytester.runpytest_subprocess(*args, "--distro-keep-cluster=always")
    kept.assert_outcomes(passed=1)
    key = next(
        line.split("kept cluster ")[1].split(":")[0]
        for line in kept.stderr.lines
        if "kept cluster " in line
    )
    try:
        host_spec = next(
            line.split("DB ")[1] for line in kept.stdout.lines if "DB docker://" in line
        )
        engine.containers.get(host_spec.removeprefix("docker://")).remove(force=True, v=True)
        again = pytester.runpytest_subprocess(*args, "--distro-reuse-cluster")
        again.assert_outcomes(passed=1)
        again.stderr.fnmatch_lines(["*no longer usable; replacing it*"])
    finally:
        remove_cluster(engine, key)
    assert of_cluster(engine, key) == []


def test_an_upgrade_on_an_external_database_keeps_the_cluster(
    pytester: pytest.Pytester,
    engine: docker.DockerClient,
    standin_images: StandinImages,
    alias: dict[str, str],
) -> None:
    """The restarted server must find every object again in the database: the
    workload keeps serving and the upgrade suite passes."""
    ref = alias["k3s"] = tag(engine, standin_images.k3s.ref, "k3s")
    target = alias["k3s-upgrade"] = tag(engine, standin_images.k3s_upgrade.ref, "k3s")
    database = alias["postgres"] = tag(engine, standin_images.postgres.ref, "postgres")
    result = pytester.runpytest_subprocess(
        str(ROOT / "suites" / "test_upgrade.py"),
        f"--rootdir={ROOT}",
        f"--distro=k3s:{standin_images.k3s.version}",
        f"--distro-image={ref}",
        f"--distro-upgrade-to={standin_images.k3s_upgrade.version}",
        f"--distro-upgrade-image={target}",
        "--distro-datastore=postgres",
        f"--distro-datastore-image={database}",
        "--distro-ready-timeout=180",
        "-p",
        "no:cacheprovider",
        "-rA",
    )
    result.assert_outcomes(passed=1)
    assert of_cluster(engine, cluster_key(result)) == []
