"""Build contexts for the per-distribution stand-in images.

A context is an in-memory tar (Dockerfile, launcher scripts and a copy of the simulated
control plane), so nothing is written next to the sources and the exact bytes sent to the
engine are what the cache key hashes.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from k8s_standin.node import runtimefiles

from image import databases
from image.specs import StandinSpec

# The simulated control plane, copied into every image at /opt/standin/k8s_standin.
SOURCE_DIR = Path(__file__).resolve().parents[1] / "k8s_standin"
STANDIN_PYTHONPATH = "/opt/standin"


@dataclass(frozen=True)
class ContextFile:
    data: bytes
    executable: bool = False
    #: Kept by COPY; k0s compares its executable's to decide whether to unpack again.
    mtime: int = 0
    #: A symbolic link to this target instead of a file.
    link: str = ""


def source_files(source_dir: Path = SOURCE_DIR) -> dict[str, ContextFile]:
    """The k8s_standin package's files, keyed by path relative to its parent."""
    if not (source_dir / "__main__.py").is_file():
        raise FileNotFoundError(
            f"{source_dir} is not a runnable package (no __main__.py); the stand-in images "
            "copy it in and run `python3 -m k8s_standin`"
        )
    files: dict[str, ContextFile] = {}
    for path in sorted(source_dir.rglob("*")):
        # Bytecode and caches differ between machines and would defeat the cache key.
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in {".pyc", ".pyo"}:
            continue
        rel = path.relative_to(source_dir.parent).as_posix()
        files[rel] = ContextFile(path.read_bytes())
    return files


def files_hash(files: Mapping[str, ContextFile], *extra: str) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        entry = files[name]
        digest.update(
            f"{name}\0{int(entry.executable)}\0{len(entry.data)}\0{entry.mtime}\0{entry.link}\0".encode()
        )
        digest.update(entry.data)
    for item in extra:
        digest.update(f"{item}\0".encode())
    return digest.hexdigest()[:16]


def _launcher(spec: StandinSpec) -> bytes:
    # The versions live in this script, not in the image's ENV: an in-place upgrade test
    # copies the files of a newer image into a running node, and what the node reports
    # must change with them, exactly as swapping the real files would.
    if spec.distro == "k3s":
        # k3s runs the containerd, shim and runc beside it in /bin.
        runtime = "STANDIN_RUNTIME_DIR=/bin\nexport STANDIN_RUNTIME_DIR\n"
    else:
        # k0s carries its runtime inside and unpacks it to <data-dir>/bin when this
        # file changed (size or modification time).
        runtime = (
            'STANDIN_EXECUTABLE="$0"\n'
            f"STANDIN_CONTAINERD_VERSION='{spec.containerd}'\n"
            f"STANDIN_RUNC_VERSION='{spec.runc}'\n"
            "export STANDIN_EXECUTABLE STANDIN_CONTAINERD_VERSION STANDIN_RUNC_VERSION\n"
        )
    return (
        "#!/bin/sh\n"
        f"# Stand-in for the {spec.distro} binary, built for pytest-k8sdistro's own tests.\n"
        "# It runs a simulated control plane (k8s_standin), not Kubernetes.\n"
        f"STANDIN_VERSION='{spec.version}'\n"
        f"PYTHONPATH={STANDIN_PYTHONPATH}\n"
        "export STANDIN_VERSION PYTHONPATH\n"
        + runtime
        + f'exec /usr/bin/python3 -m k8s_standin {spec.distro} "$@"\n'
    ).encode()


#: What rancher/k3s links to its multicall k3s binary (k3s-io/k3s scripts/build-k3s.sh).
K3S_LINKS = (
    "k3s-agent",
    "k3s-server",
    "k3s-etcd-snapshot",
    "k3s-secrets-encrypt",
    "k3s-certificate",
    "k3s-completion",
    "kubectl",
    "crictl",
    "ctr",
)


def _k3s_bin(spec: StandinSpec) -> dict[str, ContextFile]:
    """The image's /bin, as rancher/k3s lays it out: the multicall k3s and its links,
    and containerd, its shim, runc and the multicall cni as files of their own."""
    release = f"k3s {spec.version}"
    files = {
        "bin/k3s": ContextFile(_launcher(spec), executable=True),
        "bin/containerd": ContextFile(runtimefiles.containerd(spec.containerd, release), True),
        "bin/containerd-shim-runc-v2": ContextFile(
            runtimefiles.shim(spec.containerd, release), True
        ),
        "bin/runc": ContextFile(runtimefiles.runc(spec.runc, release), True),
        "bin/cni": ContextFile(runtimefiles.cni(spec.cni, release), True),
    }
    files.update({f"bin/{name}": ContextFile(b"", link="k3s") for name in K3S_LINKS})
    files.update({f"bin/{name}": ContextFile(b"", link="cni") for name in runtimefiles.CNI_PLUGINS})
    return files


#: Debian's /bin is a link to /usr/bin; rancher/k3s is built from scratch and its /bin
#: is a directory of k3s's own files. This makes /bin a directory again, with a link
#: per Debian command so the shell and tools stay where they were.
UNMERGE_BIN = (
    "import os; os.remove('/bin'); os.mkdir('/bin'); "
    "[os.symlink('/usr/bin/' + n, '/bin/' + n) for n in os.listdir('/usr/bin')]"
)


# The real k0s image's entrypoint prepares the container before exec'ing its command:
# nested cgroups on cgroup v2 hosts and a DNS fix for Docker's embedded resolver. The
# stand-in does the same in spirit, and every step is optional and harmless when it cannot
# apply (cgroup v1 hosts, read-only cgroupfs, no embedded DNS).
K0S_ENTRYPOINT = b"""#!/bin/sh
# Entrypoint of the k0s stand-in image (pytest-k8sdistro tests). Prepares the container
# like the real image's entrypoint would, then runs the command (default: k0s controller).
set -eu

log() { echo "entrypoint: $*" >&2; }

# cgroup v2: processes must leave the root cgroup before controllers can be delegated to
# children (the "no internal processes" rule), so move everything into a leaf first.
if [ "${K0S_ENTRYPOINT_ENABLE_CGROUPV2_NESTING:-1}" = 1 ] \\
        && [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    if mkdir -p /sys/fs/cgroup/entrypoint 2>/dev/null; then
        for pid in $(cat /sys/fs/cgroup/cgroup.procs); do
            echo "$pid" >/sys/fs/cgroup/entrypoint/cgroup.procs 2>/dev/null || true
        done
        for ctl in $(cat /sys/fs/cgroup/cgroup.controllers); do
            echo "+$ctl" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
        done
    else
        log "cgroup v2 is read-only here; not nesting"
    fi
fi

# Docker's embedded DNS (127.0.0.11) is unreachable from pods; the stand-in runs no pods,
# so only report it.
if [ "${K0S_ENTRYPOINT_DNS_FIXUP:-1}" = 1 ] \\
        && grep -q '^nameserver 127\\.0\\.0\\.11' /etc/resolv.conf 2>/dev/null; then
    log "Docker embedded DNS in use; nothing to fix for the stand-in"
fi

# Like the real entrypoint: the configuration in K0S_CONFIG goes to the file that
# "k0s controller --config=/etc/k0s/config.yaml" reads.
if [ -n "${K0S_CONFIG:-}" ]; then
    mkdir -p /etc/k0s
    printf %s "$K0S_CONFIG" >/etc/k0s/config.yaml
fi

exec env -u K0S_CONFIG "$@"
"""


def _dockerfile(spec: StandinSpec, base: str) -> str:
    common = f"FROM {base}\nCOPY k8s_standin /opt/standin/k8s_standin\n"
    if spec.distro == "k3s":
        # rancher/k3s: k3s is PID 1 (ENTRYPOINT), "agent" by default, busybox /bin/sh,
        # /bin/aux on PATH, and these four volumes (k3s-io/k3s:package/Dockerfile).
        return common + (
            f'RUN ["/usr/bin/python3", "-c", "{UNMERGE_BIN}"]\n'
            "COPY bin/ /bin/\n"
            "RUN mkdir -p /bin/aux && python3 -m compileall -q /opt/standin\n"
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/bin/aux\n"
            'VOLUME ["/var/lib/kubelet", "/var/lib/rancher/k3s", "/var/lib/cni", "/var/log"]\n'
            'ENTRYPOINT ["/bin/k3s"]\n'
            'CMD ["agent"]\n'
        )
    if spec.distro == "k0s":
        # k0sproject/k0s: tini runs /entrypoint.sh, which execs the command; the binary is
        # /usr/local/bin/k0s and KUBECONFIG points at the admin kubeconfig (k0sproject/k0s:
        # Dockerfile). Debian puts tini in /usr/bin, so /sbin/tini is a link.
        return common + (
            "COPY k0s /usr/local/bin/k0s\n"
            "COPY entrypoint.sh /entrypoint.sh\n"
            "RUN [ -e /sbin/tini ] || ln -s /usr/bin/tini /sbin/tini; "
            "python3 -m compileall -q /opt/standin\n"
            "ENV KUBECONFIG=/var/lib/k0s/pki/admin.conf\n"
            "VOLUME /var/lib/k0s\n"
            'ENTRYPOINT ["/sbin/tini", "--", "/entrypoint.sh"]\n'
            'CMD ["k0s", "controller", "--enable-worker"]\n'
        )
    raise ValueError(f"no stand-in image recipe for distro {spec.distro!r}")


@dataclass(frozen=True)
class BuildContext:
    spec: StandinSpec
    files: dict[str, ContextFile]
    source_hash: str  # the k8s_standin package alone
    context_hash: str  # everything the image is made from, base image id included

    def tar(self) -> io.BytesIO:
        """The context as an uncompressed tar, ready for the engine's /build endpoint."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name in sorted(self.files):
                entry = self.files[name]
                info = tarfile.TarInfo(name)
                if entry.link:
                    info.type = tarfile.SYMTYPE
                    info.linkname = entry.link
                    info.mode = 0o777
                    tar.addfile(info)
                    continue
                info.size = len(entry.data)
                info.mode = 0o755 if entry.executable else 0o644
                info.mtime = entry.mtime  # fixed, for reproducible bytes
                tar.addfile(info, io.BytesIO(entry.data))
        buffer.seek(0)
        return buffer


def make_context(
    spec: StandinSpec, base: str, base_id: str, source_dir: Path = SOURCE_DIR
) -> BuildContext:
    if spec.role == "database":
        files = {
            "Dockerfile": ContextFile(databases.dockerfile(spec.distro, base).encode()),
            "entrypoint.sh": ContextFile(databases.ENTRYPOINTS[spec.distro], executable=True),
        }
        return BuildContext(
            spec=spec, files=files, source_hash="", context_hash=files_hash(files, base_id)
        )
    sources = source_files(source_dir)
    files = dict(sources)
    files["Dockerfile"] = ContextFile(_dockerfile(spec, base).encode())
    if spec.distro == "k3s":
        files.update(_k3s_bin(spec))
    else:
        files[spec.distro] = ContextFile(
            _launcher(spec), executable=True, mtime=spec.released_epoch
        )
        files["entrypoint.sh"] = ContextFile(K0S_ENTRYPOINT, executable=True)
    return BuildContext(
        spec=spec,
        files=files,
        source_hash=files_hash(sources),
        context_hash=files_hash(files, base_id),
    )
