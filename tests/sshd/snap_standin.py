#!/usr/bin/env python3
"""A stand-in for snapd's ``snap`` command, for pytest-k8sdistro's microk8s tests only.

It is copied into the throwaway machine container as ``/usr/bin/snap`` and nowhere
else: it must never shadow a real snap. It installs snaps from a local "store"
(``/var/lib/snapd-standin/store/<name>/<track>/``, put there by the test fixture) or
from a local ``.snap`` file, the way snapd lays them out:

- ``/snap/<name>/<revision>/`` holds the snap's files, ``/snap/<name>/current`` links
  to the active revision;
- ``/var/snap/<name>/<revision>/`` is ``$SNAP_DATA`` (copied forward on refresh, as
  snapd does), ``/var/snap/<name>/common`` is ``$SNAP_COMMON``;
- ``/snap/bin/<app>`` links to ``/usr/bin/snap``, which runs the app when called by
  that name, with ``SNAP``, ``SNAP_DATA``, ``SNAP_COMMON``, ``SNAP_REVISION`` set;
- daemons run detached (the machine has no systemd); their output is kept for the
  ``journalctl`` stand-in under ``/var/log/snapd-standin/snap.<name>.<app>.log``.

Commands: ``install NAME --classic --channel=TRACK/RISK``, ``install PATH.snap
--classic [--dangerous]``, ``ack FILE``, ``refresh NAME --channel=...``, ``remove
NAME [--purge]``, ``list``. A snap's files say what it runs: ``meta/standin.json``
names its apps and daemons and ``meta/hooks/remove`` is run on removal.

Daemons and apps run by this command get the variables of
``/etc/snapd-standin/environment`` (``KEY=VALUE`` lines), which is how tests switch the
stand-in's faults on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

STATE = Path("/var/lib/snapd-standin")
STORE = STATE / "store"
ASSERTIONS = STATE / "assertions"
RUN = Path("/run/snapd-standin")
LOGS = Path("/var/log/snapd-standin")
ENVIRONMENT = Path("/etc/snapd-standin/environment")
SNAP_BIN = Path("/snap/bin")
RISKS = ("stable", "candidate", "beta", "edge")
STOP_TIMEOUT_S = 30.0


class SnapError(Exception):
    pass


def _state() -> dict[str, dict[str, str]]:
    try:
        return dict(json.loads((STATE / "state.json").read_text()))
    except (OSError, ValueError):
        return {}


def _save(state: dict[str, dict[str, str]]) -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / "state.json").write_text(json.dumps(state, indent=2))


def _meta(root: Path) -> dict[str, object]:
    return dict(json.loads((root / "meta" / "standin.json").read_text()))


def _env(name: str, revision: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SNAP=f"/snap/{name}/{revision}",
        SNAP_DATA=f"/var/snap/{name}/{revision}",
        SNAP_COMMON=f"/var/snap/{name}/common",
        SNAP_REVISION=revision,
        SNAP_NAME=name,
    )
    return env


def _daemon_env(name: str, revision: str) -> dict[str, str]:
    env = _env(name, revision)
    if ENVIRONMENT.is_file():
        for line in ENVIRONMENT.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() and not key.startswith("#"):
                env[key.strip()] = value
    return env


def _pid_file(name: str, daemon: str) -> Path:
    return RUN / f"snap.{name}.{daemon}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def start_daemons(name: str, revision: str) -> None:
    root = Path(f"/snap/{name}/{revision}")
    daemons = dict(_meta(root).get("daemons") or {})  # type: ignore[call-overload]
    RUN.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    for daemon, command in daemons.items():
        log = open(LOGS / f"snap.{name}.{daemon}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [str(root / command)],
            env=_daemon_env(name, revision),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _pid_file(name, daemon).write_text(str(proc.pid))


def stop_daemons(name: str) -> None:
    for pid_file in RUN.glob(f"snap.{name}.*.pid"):
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            pid_file.unlink(missing_ok=True)
            continue
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)


def _unpack(payload: Path, name: str, revision: str) -> Path:
    root = Path(f"/snap/{name}/{revision}")
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    with tarfile.open(payload) as tar:
        # The payload is the test fixture's own; Python before 3.11.4 has no filters.
        if hasattr(tarfile, "tar_filter"):
            tar.extractall(root, filter="tar")
        else:
            tar.extractall(root)
    return root


def _activate(name: str, revision: str, previous: str | None) -> None:
    data = Path(f"/var/snap/{name}")
    new_data = data / revision
    if previous and (data / previous).is_dir() and not new_data.exists():
        shutil.copytree(data / previous, new_data, symlinks=True)
    new_data.mkdir(parents=True, exist_ok=True)
    (data / "common").mkdir(parents=True, exist_ok=True)
    for link, target in ((Path(f"/snap/{name}/current"), revision), (data / "current", revision)):
        tmp = link.with_name(".current.tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target)
        tmp.replace(link)
    SNAP_BIN.mkdir(parents=True, exist_ok=True)
    for app in dict(_meta(Path(f"/snap/{name}/{revision}")).get("apps") or {}):  # type: ignore[call-overload]
        exe = SNAP_BIN / (name if app == name else f"{name}.{app}")
        exe.unlink(missing_ok=True)
        exe.symlink_to("/usr/bin/snap")


def _channel(argv: list[str]) -> str:
    for arg in argv:
        if arg.startswith("--channel="):
            return arg.split("=", 1)[1]
    return "latest/stable"


def _from_store(name: str, channel: str) -> tuple[Path, dict[str, str]]:
    track, _, risk = channel.partition("/")
    if risk and risk not in RISKS:
        raise SnapError(f'invalid risk in channel name: "{channel}"')
    where = STORE / name / track
    if not (where / "snap.tar").is_file():
        known = sorted(p.name for p in (STORE / name).glob("*")) if (STORE / name).is_dir() else []
        if not known:
            raise SnapError(f'snap "{name}" not found')
        raise SnapError(
            f'requested a non-existing channel for "{name}": "{channel}" '
            f"(tracks: {', '.join(known)})"
        )
    return where / "snap.tar", dict(json.loads((where / "info.json").read_text()))


def _acked(digest: str) -> str | None:
    for path in ASSERTIONS.glob("*.assert"):
        fields = dict(line.split(": ", 1) for line in path.read_text().splitlines() if ": " in line)
        if fields.get("snap-sha3-384") == digest:
            return fields.get("snap-revision")
    return None


def install(argv: list[str]) -> None:
    target = next((a for a in argv if not a.startswith("-")), "")
    if not target:
        raise SnapError("the required argument `<snap>` was not provided")
    local = target.endswith(".snap") or "/" in target
    if local:
        payload = Path(target)
        if not payload.is_file():
            raise SnapError(f'cannot open "{target}"')
        with tarfile.open(payload) as tar:
            handle = tar.extractfile("meta/standin.json")
            assert handle is not None
            meta = json.loads(handle.read())
        name = str(meta["name"])
        digest = hashlib.sha3_384(payload.read_bytes()).hexdigest()
        revision = _acked(digest)
        if revision is None:
            if "--dangerous" not in argv:
                raise SnapError(f'cannot find signatures with metadata for snap "{target}"')
            revision = "x1"
        info = {"version": str(meta["version"]), "revision": revision, "channel": ""}
    else:
        name = target
        payload, info = _from_store(name, _channel(argv))
        info["channel"] = _channel(argv)
    state = _state()
    if name in state:
        raise SnapError(f"snap \"{name}\" is already installed, see 'snap help refresh'")
    if "--classic" not in argv:
        raise SnapError(
            f'This revision of snap "{name}" was published using classic confinement and '
            "thus may perform arbitrary system changes outside of the security sandbox that "
            "snaps are usually confined to, which may put your system at risk.\n\n"
            "If you understand and want to proceed repeat the command including --classic."
        )
    _unpack(payload, name, info["revision"])
    _activate(name, info["revision"], None)
    state[name] = info
    _save(state)
    start_daemons(name, info["revision"])
    where = f" ({info['channel']})" if info["channel"] else ""
    print(f"{name}{where} {info['version']} installed")


def refresh(argv: list[str]) -> None:
    name = next((a for a in argv if not a.startswith("-")), "")
    state = _state()
    if name not in state:
        raise SnapError(f'snap "{name}" is not installed')
    payload, info = _from_store(name, _channel(argv))
    info["channel"] = _channel(argv)
    previous = state[name]["revision"]
    if info["revision"] == previous:
        print(f'snap "{name}" has no updates available')
        return
    stop_daemons(name)
    _unpack(payload, name, info["revision"])
    _activate(name, info["revision"], previous)
    state[name] = info
    _save(state)
    start_daemons(name, info["revision"])
    print(f"{name} ({info['channel']}) {info['version']} refreshed")


def remove(argv: list[str]) -> None:
    name = next((a for a in argv if not a.startswith("-")), "")
    state = _state()
    if name not in state:
        print(f'snap "{name}" is not installed')
        return
    revision = state[name]["revision"]
    stop_daemons(name)
    hook = Path(f"/snap/{name}/{revision}/meta/hooks/remove")
    if hook.is_file():
        subprocess.run([str(hook)], env=_env(name, revision), check=False)
    for path in (Path(f"/snap/{name}"), Path(f"/var/snap/{name}")):
        shutil.rmtree(path, ignore_errors=True)
    for exe in SNAP_BIN.glob(f"{name}*"):
        exe.unlink(missing_ok=True)
    for log in LOGS.glob(f"snap.{name}.*"):
        log.unlink(missing_ok=True)
    del state[name]
    _save(state)
    print(f"{name} removed")


def ack(argv: list[str]) -> None:
    path = Path(argv[0]) if argv else Path()
    if not path.is_file():
        raise SnapError(f"cannot read assertion file: open {path}: no such file or directory")
    ASSERTIONS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, ASSERTIONS / f"{hashlib.sha256(path.read_bytes()).hexdigest()}.assert")


def list_snaps(argv: list[str]) -> None:
    state = _state()
    wanted = [name for name in argv if not name.startswith("-")]
    shown = {name: info for name, info in state.items() if not wanted or name in wanted}
    if wanted and not shown:
        # What snapd answers for names none of which is installed (and exits 1).
        raise SnapError("no matching snaps installed")
    print("Name      Version  Rev   Tracking  Publisher   Notes")
    for name, info in sorted(shown.items()):
        tracking = info["channel"] or "-"
        print(f"{name}  {info['version']}  {info['revision']}  {tracking}  canonical  classic")


def run_app(name: str, argv: list[str]) -> int:
    snap, _, app = name.partition(".")
    state = _state()
    if snap not in state:
        print(f"error: snap {snap!r} is not installed", file=sys.stderr)
        return 1
    revision = state[snap]["revision"]
    root = Path(f"/snap/{snap}/{revision}")
    command = dict(_meta(root).get("apps") or {})[app or snap]  # type: ignore[call-overload]
    os.execve(str(root / command), [str(root / command), *argv], _daemon_env(snap, revision))


COMMANDS = {
    "install": install,
    "refresh": refresh,
    "remove": remove,
    "ack": ack,
    "list": list_snaps,
}


def main(argv: list[str]) -> int:
    called = Path(argv[0]).name
    if called != "snap":
        return run_app(called, argv[1:])
    if len(argv) < 2 or argv[1] not in COMMANDS:
        print(f"usage: snap {'|'.join(COMMANDS)} ... (pytest-k8sdistro stand-in)", file=sys.stderr)
        return 1
    if os.geteuid() != 0 and argv[1] != "list":
        print("error: access denied (try with sudo)", file=sys.stderr)
        return 1
    try:
        COMMANDS[argv[1]](argv[2:])
    except SnapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
