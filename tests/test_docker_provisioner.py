"""The Docker provisioner against a real engine, with the stand-in k3s and k0s images.

Everything a test makes carries the plugin's labels (or ``pytest-k8sdistro.test=1``)
and is removed at the end, found by its run id: the engine is shared with other work.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import subprocess
import sys
import tarfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
import yaml
from image.specs import STANDINS, StandinImages
from kubernetes import client as k8s

from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import ProvisionError
from pytest_k8sdistro.kube import api as kube
from pytest_k8sdistro.model.cluster import Cluster, RunIdentity
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners.docker import labels, privileges, shipped
from pytest_k8sdistro.provisioners.docker.provisioner import DockerProvisioner, _Creation

pytestmark = pytest.mark.docker

TEST_LABELS = {"pytest-k8sdistro.test": "1"}
STANDIN_SPECS = {s.version: s for s in STANDINS}
VERSIONS = {"k3s": "v1.36.5+k3s1", "k0s": "v1.36.3+k0s.2"}

Make = Callable[..., DockerProvisioner]


@pytest.fixture
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


def settings(spec: DistroSpec, image: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"image": image, "ready_timeout": 120.0, **overrides}
    return Settings(distros=(spec,), **values)


def remove_run(engine: docker.DockerClient, run_id: str) -> None:
    wanted = {"label": [f"{labels.RUN_ID}={run_id}"]}
    for container in engine.containers.list(ignore_removed=True, all=True, filters=wanted):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
    for network in engine.networks.list(filters=wanted):
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
    for volume in engine.volumes.list(filters=wanted):
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)


def owned_by(engine: docker.DockerClient, run_id: str) -> list[str]:
    wanted = {"label": [f"{labels.RUN_ID}={run_id}"]}
    return (
        [c.name for c in engine.containers.list(ignore_removed=True, all=True, filters=wanted)]
        + [n.name for n in engine.networks.list(filters=wanted)]
        + [v.name for v in engine.volumes.list(filters=wanted)]
    )


@pytest.fixture
def make(
    engine: docker.DockerClient, standin_images: StandinImages, tmp_path: Path
) -> Iterator[Make]:
    """Provisioners for the stand-in images; whatever they made goes at the end."""
    made: list[DockerProvisioner] = []

    def factory(
        distro: str = "k3s", *, image: str | None = None, run: RunIdentity | None = None, **kw: Any
    ) -> DockerProvisioner:
        spec = DistroSpec(distro, VERSIONS[distro])
        ref = image or standin_images.for_distro(distro).ref
        provisioner = DockerProvisioner(
            settings(spec, ref, **kw), run or RunIdentity.new(), tmp_path / "work", Progress()
        )
        made.append(provisioner)
        return provisioner

    yield factory
    for provisioner in made:
        remove_run(engine, provisioner.run.run_id)


def key() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def spec(distro: str = "k3s") -> DistroSpec:
    return DistroSpec(distro, VERSIONS[distro])


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # the API may be restarting
            last = exc
        else:
            if last:
                return last
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}; last: {last!r}")


def node_names(cluster: Cluster) -> list[str]:
    api = kube.api_client(cluster.kubeconfig)
    try:
        return sorted(n.metadata.name for n in k8s.CoreV1Api(api).list_node().items)
    finally:
        api.close()


# -- create and destroy -----------------------------------------------------------------


@pytest.mark.parametrize("distro", ["k3s", "k0s"])
def test_create_publishes_on_loopback_and_destroy_leaves_nothing(
    make: Make, engine: docker.DockerClient, distro: str
) -> None:
    provisioner = make(distro)
    name = key()
    cluster = provisioner.create(spec(distro), name)
    run_id = provisioner.run.run_id

    container = engine.containers.get(cluster.details["containers"][0])
    assert container.status == "running"
    assert container.name == f"k8sdistro-{name}-server-0"
    assert container.labels[labels.RUN_ID] == run_id
    assert container.labels[labels.PID] == str(os.getpid())
    assert container.labels[labels.CLUSTER] == name
    bindings = container.attrs["NetworkSettings"]["Ports"]
    assert set(bindings) >= {"6443/tcp", "80/tcp", "443/tcp", "8080/tcp", "8443/tcp"}
    assert cluster.host_port(80) == cluster.details["ports"]["80/tcp"]
    for port, published in bindings.items():
        assert published, port
        assert {b["HostIp"] for b in published} == {"127.0.0.1"}, port
    # The distribution is not PID 1: the supervisor (k3s) or tini (k0s) is.
    _, comm = container.exec_run(["cat", "/proc/1/cmdline"])
    assert (b"tini" if distro == "k0s" else b"k8sdistro-supervisor") in comm

    path = Path(cluster.kubeconfig)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.parent == provisioner.workdir
    server = yaml.safe_load(path.read_text())["clusters"][0]["cluster"]["server"]
    assert (
        server == cluster.api_server == f"https://127.0.0.1:{cluster.details['ports']['6443/tcp']}"
    )
    assert cluster.nodes[0].host_spec == f"docker://{container.id}"
    # A real client, verifying the serving certificate against 127.0.0.1.
    assert wait_for("the node", lambda: node_names(cluster)) == [container.name]
    volumes = engine.volumes.list(filters={"label": [f"{labels.RUN_ID}={run_id}"]})
    assert {v.name for v in volumes} == set(cluster.details["volumes"]) != set()
    for volume in volumes:
        assert volume.attrs["Labels"][labels.CLUSTER] == name

    provisioner.destroy(cluster)
    assert owned_by(engine, run_id) == []


def test_multi_node_uses_a_labelled_network_and_removes_it(
    make: Make, engine: docker.DockerClient
) -> None:
    provisioner = make("k3s", nodes=2)
    cluster = provisioner.create(spec(), key())
    network = engine.networks.get(cluster.details["network"])
    assert network.attrs["Labels"][labels.RUN_ID] == provisioner.run.run_id
    agent = engine.containers.get(cluster.details["containers"][1])
    env = dict(item.split("=", 1) for item in agent.attrs["Config"]["Env"])
    assert env["K3S_URL"] == f"https://{cluster.nodes[0].name}:6443"
    assert env["K3S_TOKEN"]
    assert agent.attrs["NetworkSettings"]["Ports"] in ({}, None)
    assert [n.role for n in cluster.nodes] == ["server", "agent"]
    # An agent joins within seconds; minutes on a machine busy with other tests.
    assert wait_for("both nodes", lambda: len(node_names(cluster)) == 2, timeout=240)
    provisioner.destroy(cluster)
    assert owned_by(engine, provisioner.run.run_id) == []


def test_node_limits_reach_the_container(make: Make, engine: docker.DockerClient) -> None:
    provisioner = make("k3s", node_memory=768 << 20, node_cpus=1.0)
    cluster = provisioner.create(spec(), key())
    host = engine.containers.get(cluster.details["containers"][0]).attrs["HostConfig"]
    assert host["Memory"] == 768 << 20
    assert host["NanoCpus"] == 1_000_000_000


def test_privileged_fallback_is_detected_and_said_once(
    engine: docker.DockerClient, standin_images: StandinImages, capsys: pytest.CaptureFixture[str]
) -> None:
    privileges.forget()
    run = RunIdentity.new()
    # Labelled as this test's own, so that its clean-up removes only what it made, never
    # the base-image containers other tests run beside it.
    direct_labels = {**TEST_LABELS, "pytest-k8sdistro.test.owner": run.run_id}
    try:
        said: list[str] = []
        found = privileges.detect(
            engine, standin_images.base, labels.for_run(run, "", "probe"), said.append
        )
        again = privileges.detect(engine, standin_images.base, {}, said.append)
        # Compare with what the engine does with --privileged, asked directly.
        try:
            engine.containers.run(
                standin_images.base, ["true"], privileged=True, remove=True, labels=direct_labels
            )
            direct = True
        except docker.errors.APIError:
            direct = False
        assert found.privileged is direct
        assert again is found
        assert len(said) == 1
        if not direct:  # this project's machines: CAP_SYS_RESOURCE is not grantable
            assert "cannot grant --privileged" in said[0]
            assert found.cap_add == ("ALL",)
        assert owned_by(engine, run.run_id) == []  # probes are removed
    finally:
        remove_run(engine, run.run_id)
        # A --privileged run the engine refused may still have left its container.
        for leftover in engine.containers.list(
            ignore_removed=True,
            all=True,
            filters={"label": f"pytest-k8sdistro.test.owner={run.run_id}"},
        ):
            leftover.remove(force=True)


# -- failures and interruptions ---------------------------------------------------------


def test_keyboard_interrupt_during_create_removes_the_half_made_node(
    make: Make, engine: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    provisioner = make("k3s")

    def interrupted(self: _Creation, container: Any) -> None:
        assert owned_by(engine, provisioner.run.run_id)  # the node exists by now
        raise KeyboardInterrupt

    monkeypatch.setattr(_Creation, "_read_kubeconfig", interrupted)
    with pytest.raises(KeyboardInterrupt):
        provisioner.create(spec(), key())
    assert owned_by(engine, provisioner.run.run_id) == []


def test_a_node_that_exits_is_an_error_with_its_log_and_is_removed(
    make: Make, engine: docker.DockerClient, standin_images: StandinImages
) -> None:
    # The base image has no /bin/k3s: the supervisor's child cannot start.
    provisioner = make("k3s", image=standin_images.base)
    name = key()
    with pytest.raises(ProvisionError, match=r"stopped \(exited, exit code 127\)") as raised:
        provisioner.create(spec(), name)
    assert "/bin/k3s" in str(raised.value)  # the log tail says what failed
    assert owned_by(engine, provisioner.run.run_id) == []
    logs = list((provisioner.workdir / "diagnostics" / name).glob("*.log"))
    assert logs and "k8sdistro-supervisor" in logs[0].read_text()


def test_missing_image_names_the_ways_to_supply_it(make: Make) -> None:
    # Pulling from a closed loopback port fails at once, without leaving the machine.
    ref = f"127.0.0.1:9/pytest-k8sdistro-test/missing:{key()}"
    provisioner = make("k3s", image=ref)
    with pytest.raises(ProvisionError) as raised:
        provisioner.create(spec(), key())
    message = str(raised.value)
    assert ref in message
    assert "--distro-image-archive" in message and "docker save" in message
    assert "--distro-image=" in message


def test_image_archive_is_loaded(make: Make, engine: docker.DockerClient, tmp_path: Path) -> None:
    # A tiny image of one file: docker save and load are what is tested, not its use.
    ref = f"pytest-k8sdistro-test/archive:{key()}"
    rootfs = io.BytesIO()
    with tarfile.open(fileobj=rootfs, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    repository, tag = ref.split(":")
    engine.api.import_image_from_data(
        rootfs.getvalue(),
        repository=repository,
        tag=tag,
        changes=['LABEL "pytest-k8sdistro.test"="1"'],
    )
    archive = tmp_path / "image.tar"
    try:
        with archive.open("wb") as out:
            for chunk in engine.images.get(ref).save(named=True):
                out.write(chunk)
        engine.images.remove(ref)
        from pytest_k8sdistro.provisioners.docker import images

        said: list[str] = []
        image_id = images.ensure(engine, ref, archive=archive, say=said.append)
        assert engine.images.get(ref).id == image_id
        assert any(ref in line for line in said)
        with pytest.raises(ProvisionError, match="holds no image"):
            images.ensure(engine, ref + "-other", archive=archive, say=said.append)
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            engine.images.remove(ref, force=True)


# -- leftovers, keeping and reuse --------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path[:0] = {paths!r}
    from test_docker_provisioner import make_detached
    cluster = make_detached({image!r}, {key!r}, Path({workdir!r}))
    print("CREATED", flush=True)
    time.sleep(600)
    """
)


def make_detached(image: str, name: str, workdir: Path) -> Cluster:
    """Run in a child process that the test then kills with SIGKILL."""
    provisioner = DockerProvisioner(settings(spec(), image), RunIdentity.new(), workdir, Progress())
    return provisioner.create(spec(), name)


def test_leftovers_of_a_killed_run_are_removed_and_nothing_else(
    make: Make, engine: docker.DockerClient, standin_images: StandinImages, tmp_path: Path
) -> None:
    dead_key = key()
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD.format(
                paths=[str(Path(__file__).parent), *sys.path],
                image=standin_images.k3s.ref,
                key=dead_key,
                workdir=str(tmp_path / "child"),
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    unlabelled = None
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "CREATED"
        child.kill()  # SIGKILL: no teardown runs
        child.wait()
        dead = engine.containers.list(
            ignore_removed=True, filters={"label": [f"{labels.CLUSTER}={dead_key}"]}
        )
        assert len(dead) == 1
        dead_run = dead[0].labels[labels.RUN_ID]

        # Beside it: a container without the plugin's labels, and a live run's node.
        unlabelled = engine.containers.run(
            standin_images.base, ["sleep", "300"], detach=True, labels=TEST_LABELS
        )
        live = make("k3s")
        live_cluster = live.create(spec(), key())

        # A later run's clean-up.
        make("k3s").cleanup_leftovers()

        assert owned_by(engine, dead_run) == []
        unlabelled.reload()
        assert unlabelled.status == "running"
        assert engine.containers.get(live_cluster.details["containers"][0]).status == "running"
    finally:
        child.kill()
        if unlabelled is not None:
            unlabelled.remove(force=True)
        for found in engine.containers.list(
            ignore_removed=True, all=True, filters={"label": [f"{labels.CLUSTER}={dead_key}"]}
        ):
            remove_run(engine, found.labels[labels.RUN_ID])


def test_reused_pid_and_other_hosts(
    make: Make, engine: docker.DockerClient, standin_images: StandinImages
) -> None:
    me = os.getpid()
    reused = RunIdentity(uuid.uuid4().hex[:12], me, RunIdentity.new().hostname)
    elsewhere = RunIdentity(uuid.uuid4().hex[:12], 1 << 30, "some-other-host")
    made = []
    try:
        for run, start in ((reused, "0:earlier"), (elsewhere, "")):
            found = labels.for_run(run, "k", "server")
            found[labels.PID_START] = start
            made.append(engine.containers.create(standin_images.base, ["true"], labels=found))
        make("k3s").cleanup_leftovers()
        assert owned_by(engine, reused.run_id) == []  # same pid, another process
        assert owned_by(engine, elsewhere.run_id) != []  # pids of other hosts are not checked
    finally:
        for run in (reused, elsewhere):
            remove_run(engine, run.run_id)


def isolated_runs() -> tuple[RunIdentity, RunIdentity]:
    """A run whose process is gone and a later, live run, both on a host of their own.

    The made-up host name keeps concurrent clean-ups (other xdist workers, other
    sessions on this engine) away from what these tests leave for their own clean-up.
    """
    host = f"pytest-k8sdistro-test-{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    earlier = RunIdentity(uuid.uuid4().hex[:12], int(done.stdout), host)
    later = RunIdentity(uuid.uuid4().hex[:12], os.getpid(), host)
    return earlier, later


def test_a_kept_cluster_is_spared_attached_and_destroyed_with_its_marker(
    make: Make, engine: docker.DockerClient
) -> None:
    # Created by a run that is gone by now, as a kept cluster is at the next run.
    gone, live = isolated_runs()
    earlier = make("k3s", run=gone)
    cluster = earlier.create(spec(), key())
    earlier.keep(cluster)

    later = make("k3s", run=live)
    later.cleanup_leftovers()
    assert engine.containers.get(cluster.details["containers"][0]).status == "running"
    assert later.attach(cluster)

    later.destroy(cluster)
    assert owned_by(engine, earlier.run.run_id) == []
    assert not later.attach(cluster)


def test_an_unkept_cluster_of_a_gone_run_is_removed(
    make: Make, engine: docker.DockerClient
) -> None:
    gone, live = isolated_runs()
    earlier = make("k3s", run=gone)
    cluster = earlier.create(spec(), key())
    make("k3s", run=live).cleanup_leftovers()
    assert owned_by(engine, earlier.run.run_id) == []
    assert not earlier.attach(cluster)


# -- logs, diagnostics, restart and upgrade ------------------------------------------------


def test_logs_and_diagnostics(make: Make, tmp_path: Path) -> None:
    provisioner = make("k3s")
    cluster = provisioner.create(spec(), key())
    wait_for("the node", lambda: node_names(cluster))
    assert "k8sdistro-supervisor: started /bin/k3s" in provisioner.logs(cluster, tail=1000)
    dest = tmp_path / "diag"
    provisioner.diagnostics(cluster, dest)
    name = cluster.nodes[0].name
    assert (dest / f"{name}.log").read_text()
    assert '"Id"' in (dest / f"{name}.inspect.json").read_text()
    assert "k8s_standin" in (dest / f"{name}.ps.txt").read_text()
    assert (dest / "events.txt").exists()
    assert name in (dest / "pods.txt").read_text() or (dest / "pods.txt").exists()


def sleeper_pod(cluster: Cluster) -> Callable[[], Any]:
    api = kube.api_client(cluster.kubeconfig)
    core = k8s.CoreV1Api(api)
    # Pods are refused until the namespace's default ServiceAccount exists, which
    # the control plane creates shortly after the namespace (as upstream does).
    wait_for(
        "the default ServiceAccount",
        lambda: core.read_namespaced_service_account("default", "default"),
    )
    core.create_namespaced_pod(
        "default",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "sleeper"},
            "spec": {
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]
            },
        },
    )

    def running() -> Any:
        pod = core.read_namespaced_pod("sleeper", "default")
        statuses = pod.status.container_statuses or []
        return statuses[0] if statuses and statuses[0].state.running else None

    return running


@pytest.mark.parametrize("distro", ["k3s", "k0s"])
def test_restart_server_keeps_the_container_and_its_pods(
    make: Make, engine: docker.DockerClient, distro: str
) -> None:
    provisioner = make(distro)
    cluster = provisioner.create(spec(distro), key())
    wait_for("the node", lambda: node_names(cluster))
    running = sleeper_pod(cluster)
    before = wait_for("the pod to run", running)

    old_pid = int(
        engine.containers.get(cluster.details["containers"][0])
        .exec_run(["cat", "/run/k8sdistro/child.pid"])
        .output
    )
    new_pid = provisioner.restart_server(cluster)
    assert new_pid != old_pid

    container = engine.containers.get(cluster.details["containers"][0])
    assert container.status == "running"
    assert "restarting" in provisioner.logs(cluster, tail=200)
    after = wait_for("the pod after the restart", running)
    assert after.container_id == before.container_id
    assert after.restart_count == before.restart_count == 0


def _node_info(cluster: Cluster) -> tuple[str, str]:
    """The first node's kubelet and container runtime versions."""
    api = kube.api_client(cluster.kubeconfig)
    try:
        info = k8s.CoreV1Api(api).list_node().items[0].status.node_info
        return str(info.kubelet_version), str(info.container_runtime_version)
    finally:
        api.close()


def _files(container_or_source: Any, path: str) -> dict[str, tuple[str, str]]:
    stream, _ = container_or_source.get_archive(path)
    return shipped.entries(b"".join(stream))


@pytest.mark.parametrize("distro", ["k3s", "k0s"])
def test_an_upgrade_replaces_everything_the_image_ships(
    make: Make, engine: docker.DockerClient, standin_images: StandinImages, distro: str
) -> None:
    """The stand-ins lay their files out as the real images do: rancher/k3s has
    containerd, its shim, runc and the CNI plugins beside /bin/k3s; k0s carries them
    inside and unpacks them to <data-dir>/bin when its binary changed. After the
    upgrade the node runs the target's containerd, not the old one."""
    provisioner = make(distro)
    cluster = provisioner.create(spec(distro), key())
    wait_for("the node", lambda: node_names(cluster))
    running = sleeper_pod(cluster)
    before = wait_for("the pod to run", running)
    container_id = cluster.details["containers"][0]
    target = standin_images.for_distro(distro, "upgrade")
    old_runtime = _node_info(cluster)[1]
    new_runtime = f"containerd://{STANDIN_SPECS[target.version].containerd}"
    assert old_runtime != new_runtime

    provisioner.upgrade(cluster, target.version, image=target.ref)

    wait_for("the new versions", lambda: _node_info(cluster) == (target.version, new_runtime))
    node = engine.containers.get(container_id)
    assert node.status == "running"
    assert wait_for("the pod", running).container_id == before.container_id
    source = engine.containers.create(target.ref, entrypoint=["/bin/true"])
    try:
        for path in provisioner._start_of(cluster).upgrade_paths:
            expected = _files(source, path)
            assert expected and _files(node, path) == expected, path
    finally:
        source.remove(force=True, v=True)
    # The files' source container was created, read and removed.
    assert (
        engine.containers.list(
            ignore_removed=True,
            all=True,
            filters={
                "label": [
                    f"{labels.RUN_ID}={provisioner.run.run_id}",
                    f"{labels.ROLE}=binary-source",
                ]
            },
        )
        == []
    )
