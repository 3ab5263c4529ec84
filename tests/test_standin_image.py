"""The stand-in images honour the real k3s and k0s images' contracts."""

from __future__ import annotations

import contextlib
import io
import shutil
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
from docker.models.containers import Container
from image.base import PACKAGES, _mirror_from_deb822, _mirror_from_list, base_ref, find_mirror
from image.builder import ensure_one
from image.context import SOURCE_DIR, make_context
from image.specs import (
    DESCRIPTION_LABEL,
    LABEL_CONTEXT_HASH,
    LABEL_SOURCE_HASH,
    StandinImages,
    StandinSpec,
    image_tag,
)

# Everything a test here creates carries this label, so cleanup (ours and .ci/run's) can
# find it without touching anyone else's containers or images.
TEST_LABELS = {"pytest-k8sdistro.test": "1"}

# The privileged fallback from machine-notes: --privileged fails on the dev/CI VMs because
# their bounding set lacks CAP_SYS_RESOURCE.
NODE_RUN_OPTIONS: dict[str, object] = {
    "cap_add": ["ALL"],
    "cap_drop": ["SYS_RESOURCE"],
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
    "tmpfs": {"/run": "", "/var/run": ""},
}


# --- no engine needed ---------------------------------------------------------------------


def test_tags_replace_plus_like_upstream() -> None:
    assert image_tag("v1.36.5+k3s1") == "v1.36.5-k3s1"
    assert StandinSpec("k0s", "v1.36.3+k0s.2", "default").ref == (
        "pytest-k8sdistro-standin/k0s:v1.36.3-k0s.2"
    )


def test_mirror_read_from_apt_sources(tmp_path: Path) -> None:
    deb822 = (
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
    )
    assert _mirror_from_deb822(deb822) == "http://mirror.example/debian"
    assert _mirror_from_list("deb [arch=amd64] http://m.example/debian bookworm main\n") == (
        "http://m.example/debian"
    )
    sources = tmp_path / "debian.sources"
    sources.write_text(deb822)
    assert find_mirror((tmp_path / "missing.list", sources)) == "http://mirror.example/debian"
    with pytest.raises(RuntimeError, match="no Debian bookworm mirror"):
        find_mirror((tmp_path / "missing.list",))


def test_base_tag_is_a_hash_of_the_package_list() -> None:
    ref = base_ref()
    assert ref.startswith("pytest-k8sdistro-standin/base:bookworm-")
    assert ref == base_ref()  # stable, so reruns reuse the image
    assert {"python3", "tini", "busybox"} <= set(PACKAGES)


def test_context_hash_follows_the_standin_sources(tmp_path: Path) -> None:
    source = tmp_path / "k8s_standin"
    shutil.copytree(SOURCE_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
    spec = StandinSpec("k3s", "v1.36.5+k3s1", "default")
    before = make_context(spec, "base:x", "sha256:1", source)
    assert make_context(spec, "base:x", "sha256:1", source) == before
    (source / "__main__.py").write_text((source / "__main__.py").read_text() + "\n# changed\n")
    after = make_context(spec, "base:x", "sha256:1", source)
    assert after.source_hash != before.source_hash
    assert after.context_hash != before.context_hash
    # A new base image rebuilds too, even with the same sources.
    assert make_context(spec, "base:x", "sha256:2", source).context_hash != after.context_hash


def test_launcher_bakes_in_the_version() -> None:
    context = make_context(StandinSpec("k3s", "v1.37.2+k3s1", "upgrade", "2.3.7-k3s1"), "b", "i")
    launcher = context.files["bin/k3s"]
    assert launcher.executable
    text = launcher.data.decode()
    assert "STANDIN_VERSION='v1.37.2+k3s1'" in text
    assert 'exec /usr/bin/python3 -m k8s_standin k3s "$@"' in text


def test_the_k3s_image_ships_its_runtime_as_files_of_their_own() -> None:
    """rancher/k3s's /bin: the multicall k3s with its links, and containerd, its shim,
    runc and the multicall cni beside it (k3s-io/k3s scripts/build-*.sh)."""
    files = make_context(
        StandinSpec("k3s", "v1.37.2+k3s1", "upgrade", "2.3.7-k3s1"), "b", "i"
    ).files
    for name in ("containerd", "containerd-shim-runc-v2", "runc", "cni"):
        assert files[f"bin/{name}"].executable and not files[f"bin/{name}"].link
    assert b"2.3.7-k3s1" in files["bin/containerd"].data
    assert files["bin/kubectl"].link == "k3s" and files["bin/flannel"].link == "cni"
    assert "COPY bin/ /bin/" in files["Dockerfile"].data.decode()


def test_k0s_binaries_of_two_releases_differ_in_time_and_carry_their_runtime() -> None:
    old, new = (
        make_context(StandinSpec("k0s", v, "x", c, "1.4.3", "", d), "b", "i").files["k0s"]
        for v, c, d in (
            ("v1.36.3+k0s.2", "2.3.3", "2026-08-11"),
            ("v1.37.0+k0s.0", "2.3.4", "2026-09-01"),
        )
    )
    assert old.mtime != new.mtime
    assert "STANDIN_CONTAINERD_VERSION='2.3.4'" in new.data.decode()


# --- real engine ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


def run_output(client: docker.DockerClient, image: str, *command: str, **options: object) -> str:
    """Run a throwaway container to completion and return its output (stdout and stderr)."""
    out = client.containers.run(
        image,
        list(command),
        remove=True,
        stdout=True,
        stderr=True,
        labels=TEST_LABELS,
        **options,
    )
    return out.decode() if isinstance(out, bytes) else str(out)


@pytest.mark.docker
def test_k3s_image_contract(client: docker.DockerClient, standin_images: StandinImages) -> None:
    for image in (standin_images.k3s, standin_images.k3s_upgrade):
        config = client.images.get(image.ref).attrs["Config"]
        assert config["Entrypoint"] == ["/bin/k3s"]
        assert config["Cmd"] == ["agent"]
        assert set(config["Volumes"]) == {
            "/var/lib/kubelet",
            "/var/lib/rancher/k3s",
            "/var/lib/cni",
            "/var/log",
        }
        path = next(e for e in config["Env"] if e.startswith("PATH="))
        assert "/bin/aux" in path.removeprefix("PATH=").split(":")
        assert "stand-in" in config["Labels"][DESCRIPTION_LABEL]
        assert image.ref == f"pytest-k8sdistro-standin/k3s:{image_tag(image.version)}"


@pytest.mark.docker
def test_k3s_has_a_shell(client: docker.DockerClient, standin_images: StandinImages) -> None:
    out = run_output(
        client,
        standin_images.k3s.ref,
        "-c",
        "test -x /bin/sh && test -d /bin/aux && echo ok",
        entrypoint="/bin/sh",
    )
    assert out.strip() == "ok"


@pytest.mark.docker
def test_k3s_reports_its_version(
    client: docker.DockerClient, standin_images: StandinImages
) -> None:
    for image in (standin_images.k3s, standin_images.k3s_upgrade):
        out = run_output(client, image.ref, "--version", entrypoint="/bin/k3s")
        assert image.version in out, out


@pytest.mark.docker
def test_k0s_image_contract(client: docker.DockerClient, standin_images: StandinImages) -> None:
    for image in (standin_images.k0s, standin_images.k0s_upgrade):
        config = client.images.get(image.ref).attrs["Config"]
        assert config["Entrypoint"] == ["/sbin/tini", "--", "/entrypoint.sh"]
        assert config["Cmd"] == ["k0s", "controller", "--enable-worker"]
        assert "KUBECONFIG=/var/lib/k0s/pki/admin.conf" in config["Env"]
        assert set(config["Volumes"]) == {"/var/lib/k0s"}
        assert "stand-in" in config["Labels"][DESCRIPTION_LABEL]


@pytest.mark.docker
def test_k0s_version_through_the_entrypoint(
    client: docker.DockerClient, standin_images: StandinImages
) -> None:
    for image in (standin_images.k0s, standin_images.k0s_upgrade):
        out = run_output(client, image.ref, "k0s", "version")
        assert image.version in out, out


@pytest.fixture
def labelled_containers(client: docker.DockerClient) -> Iterator[list[Container]]:
    """Containers a test starts; removed (with their volumes) whatever the outcome."""
    containers: list[Container] = []
    yield containers
    for container in containers:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)


def copy_file_out(container: Container, path: str) -> bytes:
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        assert member is not None
        extracted = tar.extractfile(member)
        assert extracted is not None
        return extracted.read()


@pytest.mark.docker
def test_swapping_the_k3s_binary_changes_the_version(
    client: docker.DockerClient,
    standin_images: StandinImages,
    labelled_containers: list[Container],
) -> None:
    """What an in-place upgrade does: take /bin/k3s from a created, never started container
    of the new image and copy it into a running node of the old one."""
    new = client.containers.create(standin_images.k3s_upgrade.ref, labels=TEST_LABELS)
    labelled_containers.append(new)
    binary = copy_file_out(new, "/bin/k3s")

    node = client.containers.run(
        standin_images.k3s.ref,
        ["-c", "sleep 300"],
        entrypoint="/bin/sh",
        detach=True,
        labels=TEST_LABELS,
    )
    labelled_containers.append(node)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("k3s")
        info.size, info.mode = len(binary), 0o755
        tar.addfile(info, io.BytesIO(binary))
    assert node.put_archive("/bin", buffer.getvalue())

    code, out = node.exec_run(["/bin/k3s", "--version"])
    assert code == 0, out
    assert standin_images.k3s_upgrade.version in out.decode()


@pytest.mark.docker
def test_changed_sources_rebuild_the_image(
    client: docker.DockerClient, standin_images: StandinImages, tmp_path: Path
) -> None:
    """The cache key: same sources reuse the image, changed sources rebuild under one tag.
    Uses a throwaway tag so images other sessions run are never replaced."""
    source = tmp_path / "k8s_standin"
    shutil.copytree(SOURCE_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
    spec = StandinSpec("k3s", f"v0.0.0+test{uuid.uuid4().hex[:8]}", "default")
    base = standin_images.base
    base_id = client.images.get(base).id
    built: list[str] = []
    try:
        first = ensure_one(client, spec, base, base_id, source, print, TEST_LABELS)
        built.append(first.image_id)
        assert ensure_one(client, spec, base, base_id, source, print, TEST_LABELS) == first
        (source / "__main__.py").write_text((source / "__main__.py").read_text() + "\n#\n")
        second = ensure_one(client, spec, base, base_id, source, print, TEST_LABELS)
        built.append(second.image_id)
        assert second.ref == first.ref
        assert second.image_id != first.image_id
        labels = client.images.get(spec.ref).labels
        assert labels[LABEL_SOURCE_HASH] == make_context(spec, base, base_id, source).source_hash
        assert labels[LABEL_CONTEXT_HASH] != ""
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(first.image_id)  # the stale image was removed
    finally:
        for image_id in built:
            with contextlib.suppress(docker.errors.NotFound):
                client.images.remove(image_id, force=True)


# How long the stand-in k3s server may take to come up: it is a Python process, not
# Kubernetes, and normally needs a few seconds.
K3S_START_TIMEOUT_S = 60.0


@pytest.mark.docker
@pytest.mark.skipif(
    not (SOURCE_DIR / "__main__.py").is_file(), reason="k8s_standin is not runnable yet"
)
def test_k3s_server_starts_in_a_container(
    client: docker.DockerClient,
    standin_images: StandinImages,
    labelled_containers: list[Container],
) -> None:
    node = client.containers.run(
        standin_images.k3s.ref,
        ["server"],
        detach=True,
        labels=TEST_LABELS,
        hostname="k3s-server-1",
        **NODE_RUN_OPTIONS,  # type: ignore[arg-type]
    )
    labelled_containers.append(node)
    deadline = time.monotonic() + K3S_START_TIMEOUT_S
    logs = ""
    while time.monotonic() < deadline:
        node.reload()
        logs = node.logs().decode(errors="replace")
        if node.status != "running":
            break  # k3s is PID 1: if it exited, the container stopped with it
        if "k3s is up and running" in logs:
            code, _ = node.exec_run(["test", "-f", "/etc/rancher/k3s/k3s.yaml"])
            if code == 0:
                return
        time.sleep(0.5)
    pytest.fail(
        f"stand-in k3s server not up within {K3S_START_TIMEOUT_S:.0f} s "
        f"(container {node.status}); last logs:\n{logs[-3000:]}"
    )
