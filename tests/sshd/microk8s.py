"""A microk8s stand-in machine: the sshd machine with a stand-in ``snap`` and a local store.

What the machine gets, all of it test support (none of it is microk8s or snapd, and
none of it is offered to users):

- ``/usr/bin/snap``: tests/sshd/snap_standin.py, the commands the plugin runs
  (``install``, ``ack``, ``refresh``, ``remove``) and the ``/snap/bin`` app links;
- ``/usr/bin/journalctl``: prints a stand-in daemon's output for ``-u snap.<name>.<app>``,
  where the real snap's daemons log to the journal;
- a store with one microk8s "snap" per track in :data:`TRACKS`: a tar of the snap's
  files (``microk8s`` and the ``daemon-kubelite`` service, both the stand-in control
  plane of tests/standin/k8s_standin in its microk8s flavour);
- ``/snap/bin`` on the PATH of SSH sessions and of sudo, as Ubuntu has it.

:func:`snap_file` writes a store payload and its assertion as a user's offline
``microk8s_<rev>.snap`` and ``.assert`` pair.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import docker
from image.context import source_files

from sshd.fixtures import SshMachine, wait_for_sshd

#: Track -> (the Kubernetes version it reports, the store's revision).
TRACKS = {"1.35": ("v1.35.7", "8511"), "1.36": ("v1.36.3", "8612")}
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin"
SNAP_STANDIN = Path(__file__).with_name("snap_standin.py")

JOURNALCTL = """\
#!/bin/sh
# Stand-in journalctl for pytest-k8sdistro's microk8s machine: the snap stand-in's
# daemons log to files, not to a journal.
unit="" lines=50
while [ "$#" -gt 0 ]; do
    case "$1" in
    -u) unit=${2%.service}; shift ;;
    -n) lines=$2; shift ;;
    esac
    shift
done
[ -n "$unit" ] && [ -f "/var/log/snapd-standin/$unit.log" ] || exit 0
tail -n "$lines" "/var/log/snapd-standin/$unit.log"
"""


def _script(body: str) -> bytes:
    return f"#!/bin/sh\n# Stand-in microk8s snap (pytest-k8sdistro tests).\n{body}".encode()


def payload(track: str) -> bytes:
    """The snap's files for ``track``, as a tar (what the store and a .snap file hold)."""
    version, _revision = TRACKS[track]
    run = f'export PYTHONPATH="$SNAP/lib" STANDIN_VERSION={version}\n'
    files: dict[str, tuple[bytes, int]] = {
        "meta/standin.json": (
            json.dumps(
                {
                    "name": "microk8s",
                    "version": version,
                    "apps": {"microk8s": "microk8s.wrapper"},
                    "daemons": {"daemon-kubelite": "run-kubelite"},
                }
            ).encode(),
            0o644,
        ),
        "meta/snap.yaml": (
            f"name: microk8s\nversion: {version}\nconfinement: classic\nbase: core22\n".encode(),
            0o644,
        ),
        "microk8s.wrapper": (
            _script(run + 'exec python3 -m k8s_standin microk8s "$@"\n'),
            0o755,
        ),
        "run-kubelite": (_script(run + "exec python3 -m k8s_standin microk8s kubelite\n"), 0o755),
        # The snap's remove hook stops what kubelite left running: the pods' processes.
        "meta/hooks/remove": (
            _script(
                'export PYTHONPATH="$SNAP/lib"\n'
                'python3 -m k8s_standin.node.killall "$SNAP_COMMON" "$SNAP_DATA" || true\n'
            ),
            0o755,
        ),
    }
    for name, entry in source_files().items():
        files[f"lib/{name}"] = (entry.data, 0o644)
    return _tar(files)


def assertion(track: str, data: bytes) -> str:
    """A stand-in snap-revision assertion for ``data``, as ``snap ack`` takes it."""
    return (
        "type: snap-revision\n"
        "authority-id: canonical\n"
        f"snap-sha3-384: {hashlib.sha3_384(data).hexdigest()}\n"
        f"snap-revision: {TRACKS[track][1]}\n"
        "snap-id: EaXqgt1lyCaxKaQCU349mlodBkDCXRcg\n"
    )


def snap_file(directory: Path, track: str) -> tuple[Path, Path]:
    """An offline ``.snap`` and its ``.assert``, as ``snap download`` leaves them."""
    directory.mkdir(parents=True, exist_ok=True)
    data = payload(track)
    revision = TRACKS[track][1]
    snap = directory / f"microk8s_{revision}.snap"
    snap.write_bytes(data)
    signed = directory / f"microk8s_{revision}.assert"
    signed.write_text(assertion(track, data))
    return snap, signed


def _tar(files: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass(frozen=True)
class Microk8sMachine:
    """The sshd machine, made a microk8s stand-in machine."""

    machine: SshMachine

    def url(self, user: str) -> str:
        return self.machine.url(user, api_port=16443)


def prepare(client: docker.DockerClient, machine: SshMachine, environment: str = "") -> None:
    """Put the snap stand-in, its store and the PATH settings into ``machine``."""
    files: dict[str, tuple[bytes, int]] = {
        "usr/bin/snap": (SNAP_STANDIN.read_bytes(), 0o755),
        "usr/bin/journalctl": (JOURNALCTL.encode(), 0o755),
        "etc/snapd-standin/environment": (environment.encode(), 0o644),
        # Ubuntu's /etc/environment and sudoers put /snap/bin on the PATH.
        "etc/ssh/sshd_config.d/snap-path.conf": (f"SetEnv PATH={PATH}\n".encode(), 0o644),
        "etc/sudoers.d/snap-path": (f'Defaults secure_path="{PATH}"\n'.encode(), 0o440),
    }
    for track, (version, revision) in TRACKS.items():
        where = f"var/lib/snapd-standin/store/microk8s/{track}"
        files[f"{where}/snap.tar"] = (payload(track), 0o644)
        info = {"version": version, "revision": revision}
        files[f"{where}/info.json"] = (json.dumps(info).encode(), 0o644)
    container = client.containers.get(machine.container_id)
    if not container.put_archive("/", _tar(files)):
        raise RuntimeError("could not copy the snap stand-in into the machine")
    # sshd reads its configuration again on SIGHUP (it restarts itself), and new
    # sessions get the PATH.
    code, output = machine.exec(client, "kill -HUP $(cat /run/sshd.pid)")
    if code != 0:
        raise RuntimeError(f"could not reload sshd: {output}")
    wait_for_sshd(machine, container)
