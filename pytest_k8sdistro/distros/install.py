"""Installing a distribution on a machine, as plain data.

A plan is a list of commands (argv plus environment, run as root) that a host, SSH
or VM provisioner executes in order, the files to copy to the machine first, how to
read the admin kubeconfig, and how to remove everything again. Keeping it data
makes every command checkable against the upstream docs without a machine
(tests/test_installers.py). Each distribution's module builds its own plans from
these types; the provisioners under ``provisioners/machine/`` run them.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

ArtifactKind = Literal["binary", "images", "script", "snap", "assert"]
ARTIFACT_KINDS: tuple[ArtifactKind, ...] = ("binary", "images", "script", "snap", "assert")

#: ``uname -m`` -> the architecture suffix of release assets.
ARCHES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
}


@dataclass(frozen=True)
class Artifact:
    """A local file installed instead of a download."""

    kind: ArtifactKind
    path: Path


def artifact_kind(path: Path) -> ArtifactKind:
    """The kind a file name suggests, when ``--distro-install-artifact`` names none."""
    name = path.name.lower()
    if name.endswith(".snap"):
        return "snap"
    if name.endswith(".assert"):
        return "assert"
    if name.endswith(".sh"):
        return "script"
    if "airgap" in name or name.endswith((".tar", ".tar.gz", ".tgz", ".tar.zst")):
        return "images"
    return "binary"


@dataclass(frozen=True)
class Step:
    """One command, run as root on the machine."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    #: Whether a non-zero exit fails the install (teardown steps go on regardless).
    check: bool = True
    timeout_s: float = 600.0
    #: Names in ``env`` whose values are secrets (a join token): :meth:`shell`, which
    #: progress lines and errors show, prints ``***`` for them.
    secret: tuple[str, ...] = ()

    def command(self, *, sudo: bool) -> list[str]:
        """The argv to execute: ``sudo -n`` when the login user is not root.

        ``env`` after sudo, because sudo's env_reset drops the caller's variables;
        ``-n`` so that a password prompt fails at once instead of hanging.
        """
        prefix = ["sudo", "-n", "--"] if sudo else []
        env = ["env", *(f"{k}={v}" for k, v in self.env)] if self.env else []
        return [*prefix, *env, *self.argv]

    def shell(self, *, sudo: bool) -> str:
        shown = Step(self.argv, tuple((k, "***" if k in self.secret else v) for k, v in self.env))
        return shlex.join(shown.command(sudo=sudo))


@dataclass(frozen=True)
class Upload:
    """A local file copied into the staging directory before the steps run."""

    source: Path
    name: str


@dataclass(frozen=True)
class InstallPlan:
    distro: str
    version: str
    uploads: tuple[Upload, ...]
    install: tuple[Step, ...]
    #: Prints the admin kubeconfig; retried until it succeeds.
    kubeconfig: Step
    uninstall: tuple[Step, ...]
    #: A shell script printing the distribution's recent log lines (``{tail}`` of them).
    logs_script: str
    api_port: int
    #: Whether the plan downloads anything (False: air-gapped).
    downloads: bool
    notes: tuple[str, ...] = field(default=())
    #: Exits 0 when the distribution is already installed on the machine. A run
    #: installs only where it is absent (or where a run of the plugin left it), so
    #: that its clean-up can never remove an installation it did not make.
    present: Step | None = None

    def logs(self, tail: int) -> Step:
        script = self.logs_script.format(tail=int(tail))
        return Step(("sh", "-c", script), check=False, timeout_s=30)


@dataclass(frozen=True)
class JoinPlan:
    """Installing an agent (a worker node) that joins a server already running."""

    distro: str
    version: str
    uploads: tuple[Upload, ...]
    install: tuple[Step, ...]
    uninstall: tuple[Step, ...]
    logs_script: str
    downloads: bool
    present: Step | None = None

    def logs(self, tail: int) -> Step:
        script = self.logs_script.format(tail=int(tail))
        return Step(("sh", "-c", script), check=False, timeout_s=30)


@dataclass(frozen=True)
class NodeNetwork:
    """The machine's address on the network its cluster's nodes share, when it has
    several (a VM's private network beside its way out): the distribution must
    advertise that one, not the address of its default route."""

    address: str
    interface: str


@dataclass(frozen=True)
class Join:
    """Where an agent finds its server, and the token it joins with."""

    server: str
    api_port: int
    token: str


@dataclass(frozen=True)
class PlanInput:
    distro: str
    version: str
    #: Directory on the machine the uploads land in (made by the provisioner).
    staging: str
    #: Architecture of the machine as ``uname -m`` prints it.
    machine: str = "x86_64"
    artifacts: tuple[Artifact, ...] = ()
    addons: tuple[str, ...] = ()
    ready_timeout_s: float = 300.0
    node: NodeNetwork | None = None
    #: Set for an agent's plan (:attr:`~.profile.MachineInstall.join`).
    join: Join | None = None


def check_artifacts(spec: PlanInput, accepted: Iterable[ArtifactKind]) -> None:
    """``ValueError`` for an artifact the distribution cannot install from."""
    kinds = tuple(accepted)
    for artifact in spec.artifacts:
        if artifact.kind not in kinds:
            raise ValueError(
                f"a {artifact.kind} artifact ({artifact.path}) does not apply to {spec.distro}; "
                f"{spec.distro} accepts: {', '.join(kinds)}"
            )


def staged(spec: PlanInput, artifact: Artifact) -> str:
    return str(PurePosixPath(spec.staging) / artifact.path.name)


def only(spec: PlanInput, kind: ArtifactKind) -> Artifact | None:
    found = [a for a in spec.artifacts if a.kind == kind]
    if len(found) > 1 and kind != "images":
        raise ValueError(f"more than one {kind} artifact given for {spec.distro}")
    return found[0] if found else None


def uploads(spec: PlanInput) -> tuple[Upload, ...]:
    return tuple(Upload(a.path, a.path.name) for a in spec.artifacts)


def any_exists(*paths: str) -> Step:
    """A :attr:`InstallPlan.present` step: exits 0 when any of ``paths`` exists."""
    return Step(
        ("sh", "-c", " || ".join(f"test -e {path}" for path in paths)), check=False, timeout_s=60
    )


def journal_or_file(unit: str, path: str) -> str:
    # systemd machines log to the journal; OpenRC services to a file. journalctl
    # exits 0 with no entries when the unit is unknown, hence the "grep ." test.
    return (
        f"journalctl -u {unit} --no-pager -q -n {{tail}} 2>/dev/null | grep . "
        f"|| tail -n {{tail}} {path} 2>/dev/null || true"
    )


def render(steps: Sequence[Step], *, sudo: bool) -> str:
    """The steps as one shell script, for docs and for users who install by hand."""
    return "\n".join(step.shell(sudo=sudo) for step in steps)
