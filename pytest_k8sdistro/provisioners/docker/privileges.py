"""How much privilege the engine grants a node container, found out once per engine.

Node containers want ``--privileged`` (the distributions' docs, kind). Some sandboxes cannot
grant it: when the engine's own capability bounding set lacks a capability (here:
CAP_SYS_RESOURCE), runc fails with "unable to apply caps: operation not permitted".
The fallback is every capability the engine can grant, with seccomp and AppArmor
unconfined, which lets the node mount and manage cgroups all the same.

Probing starts tiny containers from the node image itself (it is local by then),
running ``test -e /dev/kmsg`` so the same probe tells whether the kernel log device
exists on the engine's host (kubernetes-sigs/kind#662).

Each probe is a container start, and a sandboxed engine needs up to three, so the
answer is remembered on disk (:mod:`pytest_k8sdistro.model.cache`) for a day, keyed
by everything of the engine that could change it: its id, version, kernel,
operating system, cgroup version, data root and security options.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import docker
import docker.errors

from pytest_k8sdistro.errors import ProvisionError
from pytest_k8sdistro.model import cache

#: "host": a privileged container sees it already; "device": passed in with --device;
#: "null": the host has none, /dev/null is bound in its place so the kubelet can open it.
KmsgMode = Literal["host", "device", "null"]

SECURITY_UNCONFINED = ["seccomp=unconfined", "apparmor=unconfined"]
KMSG_DEVICE = "/dev/kmsg:/dev/kmsg:rwm"


@dataclass(frozen=True)
class Privileges:
    privileged: bool
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    kmsg: KmsgMode = "host"
    #: What was tried before this, and why it failed: for the message said once.
    refused: tuple[str, ...] = field(default=(), compare=False)

    def create_options(self) -> dict[str, Any]:
        """Keyword arguments for ``containers.create`` that apply these privileges."""
        options: dict[str, Any] = {}
        if self.privileged:
            options["privileged"] = True
        else:
            options["cap_add"] = list(self.cap_add)
            options["cap_drop"] = list(self.cap_drop)
            options["security_opt"] = list(SECURITY_UNCONFINED)
        if self.kmsg == "device":
            options["devices"] = [KMSG_DEVICE]
        elif self.kmsg == "null":
            options["volumes"] = {"/dev/null": {"bind": "/dev/kmsg", "mode": "rw"}}
        return options

    def describe(self) -> str:
        if self.privileged:
            how = "node containers run --privileged"
        else:
            caps = "all capabilities" + (
                f" except {', '.join(self.cap_drop)}" if self.cap_drop else ""
            )
            reason = f" ({self.refused[0]})" if self.refused else ""
            how = (
                f"the engine cannot grant --privileged{reason}; node containers get {caps} "
                "with seccomp and AppArmor unconfined instead"
            )
        if self.kmsg == "null":
            how += "; the engine's host has no /dev/kmsg, so /dev/null is bound there"
        return how


#: Tried in order: what the distributions' docs use, then the fallback.
CANDIDATES: tuple[Privileges, ...] = (
    Privileges(privileged=True),
    Privileges(privileged=False, cap_add=("ALL",)),
    # The sandboxes we know of lack CAP_SYS_RESOURCE in their bounding set.
    Privileges(privileged=False, cap_add=("ALL",), cap_drop=("SYS_RESOURCE",)),
)

_cache: dict[str, Privileges] = {}
_lock = threading.Lock()
CACHE_SECTION = "engine-privileges"
CACHE_MAX_AGE_S = 24 * 3600.0
#: The parts of ``docker info`` that decide what the engine can grant.
FINGERPRINT_KEYS = (
    "ID",
    "ServerVersion",
    "KernelVersion",
    "OperatingSystem",
    "CgroupVersion",
    "DockerRootDir",
    "SecurityOptions",
)


def detect(
    client: docker.DockerClient,
    image: str,
    labels: dict[str, str],
    say: Any = None,
    *,
    info: dict[str, Any] | None = None,
) -> Privileges:
    """The privileges node containers get on this engine, probed once per engine.

    ``say`` (a callable taking a message) hears the outcome once per process;
    ``info`` is the engine's ``docker info`` when the caller has it already.
    """
    key = str(client.api.base_url)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            return found
        fingerprint = engine_fingerprint(client, info)
        remembered = _remembered(fingerprint) if fingerprint else None
        found = remembered or _probe_all(client, image, labels)
        if fingerprint and remembered is None:
            cache.write(CACHE_SECTION, fingerprint, _to_dict(found))
        _cache[key] = found
    if say is not None:
        say(found.describe() + (" (as probed earlier on this engine)" if remembered else ""))
    return found


def engine_fingerprint(
    client: docker.DockerClient, info: dict[str, Any] | None = None
) -> str | None:
    """A key for what this engine grants, or None when it does not say (no disk cache)."""
    if info is None:
        try:
            info = client.info()
        except Exception:  # an engine that cannot answer is reported by the start itself
            return None
    if not isinstance(info, dict) or not info.get("ID"):
        return None
    parts = [str(client.api.base_url), *(repr(info.get(k)) for k in FINGERPRINT_KEYS)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _to_dict(found: Privileges) -> dict[str, Any]:
    return {
        "privileged": found.privileged,
        "cap_add": list(found.cap_add),
        "cap_drop": list(found.cap_drop),
        "kmsg": found.kmsg,
        "refused": list(found.refused),
    }


def _remembered(fingerprint: str) -> Privileges | None:
    data = cache.read(CACHE_SECTION, fingerprint, max_age_s=CACHE_MAX_AGE_S)
    if data is None:
        return None
    try:
        kmsg = data["kmsg"]
        if kmsg not in ("host", "device", "null"):
            return None
        return Privileges(
            privileged=bool(data["privileged"]),
            cap_add=tuple(str(c) for c in data["cap_add"]),
            cap_drop=tuple(str(c) for c in data["cap_drop"]),
            kmsg=kmsg,
            refused=tuple(str(r) for r in data["refused"]),
        )
    except (KeyError, TypeError):
        return None


def _probe_all(client: docker.DockerClient, image: str, labels: dict[str, str]) -> Privileges:
    refused: list[str] = []
    for candidate in CANDIDATES:
        kmsg_modes: tuple[KmsgMode, ...] = ("host",) if candidate.privileged else ("device", "null")
        for kmsg in kmsg_modes:
            trial = Privileges(candidate.privileged, candidate.cap_add, candidate.cap_drop, kmsg)
            error, kmsg_present = _probe(client, image, labels, trial)
            if error is None:
                if trial.privileged and not kmsg_present:
                    trial = Privileges(True, kmsg="null")
                return Privileges(
                    trial.privileged, trial.cap_add, trial.cap_drop, trial.kmsg, tuple(refused)
                )
            if kmsg == "device" and "kmsg" in error:
                continue  # no /dev/kmsg on the host: try with /dev/null bound there
            refused.append(_short(error))
            break
    raise ProvisionError(
        f"the Docker engine refused every way of starting a node container from {image}: "
        + "; ".join(refused)
    )


def _probe(
    client: docker.DockerClient, image: str, labels: dict[str, str], trial: Privileges
) -> tuple[str | None, bool]:
    """(None, /dev/kmsg exists) when a container with ``trial`` starts, else (error, False)."""
    try:
        container = client.containers.create(
            image,
            entrypoint=["/bin/sh", "-c", "test -e /dev/kmsg"],
            command=[],
            labels=labels,
            network_mode="none",
            **trial.create_options(),
        )
    except docker.errors.APIError as exc:
        return str(exc.explanation or exc), False
    try:
        try:
            container.start()
        except docker.errors.APIError as exc:
            message = str(exc.explanation or exc)
            if "/bin/sh" in message and (
                "executable file not found" in message or "no such file" in message.lower()
            ):
                raise ProvisionError(
                    f"image {image} has no /bin/sh, which the node's supervisor needs"
                ) from None
            return message, False
        status = container.wait(timeout=60).get("StatusCode", 1)
        return None, status == 0
    finally:
        with contextlib.suppress(docker.errors.APIError):
            # v=True: the image's declared volumes were made anonymous for the probe;
            # without it every cluster start would leave them on the engine.
            container.remove(force=True, v=True)


def _short(message: str) -> str:
    for marker in ("unable to apply caps", "operation not permitted"):
        if marker in message:
            return f"runc: {marker}"
    return message.strip().splitlines()[0][:200] if message.strip() else "refused"


def forget() -> None:
    """Drop every remembered outcome, in this process and on disk: the next
    :func:`detect` probes again."""
    with _lock:
        _cache.clear()
        cache.forget(CACHE_SECTION)
