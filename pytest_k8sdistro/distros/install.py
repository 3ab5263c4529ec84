"""What installing a distribution on a machine runs, per distribution, as plain data.

A plan is a list of commands (argv plus environment, run as root) that a host, SSH
or VM provisioner executes in order, the files to copy to the machine first, how to
read the admin kubeconfig, and how to remove everything again. Keeping it data
makes every command checkable against the upstream docs without a machine
(tests/test_installers.py).

Upstream facts used here, by distribution:

- k3s (docs.k3s.io/installation, docs.k3s.io/installation/airgap,
  docs.k3s.io/installation/uninstall): the install script at https://get.k3s.io,
  pinned with ``INSTALL_K3S_VERSION``; for air-gapped machines the binary goes to
  ``/usr/local/bin/k3s``, the images tarball to ``/var/lib/rancher/k3s/agent/images/``
  and the script runs with ``INSTALL_K3S_SKIP_DOWNLOAD=true``; the script writes
  ``k3s-uninstall.sh`` next to the binary. Kubeconfig: ``/etc/rancher/k3s/k3s.yaml``.
  Under OpenRC the service logs to ``/var/log/k3s.log``, under systemd to the journal.
- k0s (docs.k0sproject.io/stable/install/, .../airgap-install/, .../reset/): the
  binary from the releases page (``k0s-<version>-<arch>``) at ``/usr/local/bin/k0s``,
  ``k0s install controller --single``, ``k0s start``; ``k0s kubeconfig admin``;
  teardown ``k0s stop`` then ``k0s reset``. Image bundles are imported from
  ``<data-dir>/images`` (``/var/lib/k0s/images``).
- microk8s (canonical/microk8s README and docs, canonical/microk8s#4508 for the
  offline ``snap ack`` + ``snap install ./microk8s.snap --classic``, docs/build.md for
  ``--dangerous`` on an unsigned snap): ``snap install microk8s --classic
  --channel=<track>/<risk>``, ``microk8s status --wait-ready``, ``microk8s enable
  <addon>``, ``microk8s config``, ``snap remove --purge microk8s``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pytest_k8sdistro.kube import kubeconfig

ArtifactKind = Literal["binary", "images", "script", "snap", "assert"]

#: Which local artifacts each distribution can install from instead of downloading.
ARTIFACT_KINDS: dict[str, tuple[ArtifactKind, ...]] = {
    "k3s": ("binary", "images", "script"),
    "k0s": ("binary", "images"),
    "microk8s": ("snap", "assert"),
}

#: What each kind is, for usage errors and docs.
ARTIFACT_HELP: dict[ArtifactKind, str] = {
    "binary": "the distribution's binary (k3s, k0s)",
    "images": "an airgap images tarball or bundle (k3s-airgap-images-*.tar*, k0s-airgap-bundle-*)",
    "script": "the k3s install script (install.sh from https://get.k3s.io)",
    "snap": "a snap file from 'snap download microk8s' (microk8s_*.snap)",
    "assert": "its assertion file (microk8s_*.assert); without it the snap installs --dangerous",
}

#: Addons of canonical/microk8s-core-addons that --distro-addons accepts.
MICROK8S_ADDONS: tuple[str, ...] = (
    "dns",
    "hostpath-storage",
    "ingress",
    "metallb",
    "metrics-server",
    "rbac",
    "registry",
    "dashboard",
    "cert-manager",
    "host-access",
    "observability",
    "helm",
    "helm3",
)

K3S_INSTALL_URL = "https://get.k3s.io"
K0S_RELEASES_URL = "https://github.com/k0sproject/k0s/releases/download"
#: Where the API listens, as each distribution's kubeconfig says.
API_PORTS = {"k3s": 6443, "k0s": 6443, "microk8s": 16443}

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
    """The kind a file name suggests, when ``--install-artifact`` names none."""
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

    def command(self, *, sudo: bool) -> list[str]:
        """The argv to execute: ``sudo -n`` when the login user is not root.

        ``env`` after sudo, because sudo's env_reset drops the caller's variables;
        ``-n`` so that a password prompt fails at once instead of hanging.
        """
        prefix = ["sudo", "-n", "--"] if sudo else []
        env = ["env", *(f"{k}={v}" for k, v in self.env)] if self.env else []
        return [*prefix, *env, *self.argv]

    def shell(self, *, sudo: bool) -> str:
        return shlex.join(self.command(sudo=sudo))


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

    def logs(self, tail: int) -> Step:
        script = self.logs_script.format(tail=int(tail))
        return Step(("sh", "-c", script), check=False, timeout_s=30)


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


def plan(spec: PlanInput) -> InstallPlan:
    """The install plan for ``spec``; ``ValueError`` for artifacts it cannot use."""
    accepted = ARTIFACT_KINDS[spec.distro]
    for artifact in spec.artifacts:
        if artifact.kind not in accepted:
            raise ValueError(
                f"a {artifact.kind} artifact ({artifact.path}) does not apply to {spec.distro}; "
                f"{spec.distro} accepts: {', '.join(accepted)}"
            )
    builders = {"k3s": _k3s, "k0s": _k0s, "microk8s": _microk8s}
    return builders[spec.distro](spec)


def _staged(spec: PlanInput, artifact: Artifact) -> str:
    return str(PurePosixPath(spec.staging) / artifact.path.name)


def _only(spec: PlanInput, kind: ArtifactKind) -> Artifact | None:
    found = [a for a in spec.artifacts if a.kind == kind]
    if len(found) > 1 and kind != "images":
        raise ValueError(f"more than one {kind} artifact given for {spec.distro}")
    return found[0] if found else None


def _uploads(spec: PlanInput) -> tuple[Upload, ...]:
    return tuple(Upload(a.path, a.path.name) for a in spec.artifacts)


def _journal_or_file(unit: str, path: str) -> str:
    # systemd machines log to the journal; OpenRC services to a file. journalctl
    # exits 0 with no entries when the unit is unknown, hence the "grep ." test.
    return (
        f"journalctl -u {unit} --no-pager -q -n {{tail}} 2>/dev/null | grep . "
        f"|| tail -n {{tail}} {path} 2>/dev/null || true"
    )


def _k3s(spec: PlanInput) -> InstallPlan:
    steps: list[Step] = []
    script = _only(spec, "script")
    binary = _only(spec, "binary")
    script_path = _staged(spec, script) if script else f"{spec.staging}/install.sh"
    if script is None:
        steps.append(Step(("curl", "-sfL", "-o", script_path, K3S_INSTALL_URL)))
    images = [a for a in spec.artifacts if a.kind == "images"]
    if images:
        steps.append(Step(("mkdir", "-p", "/var/lib/rancher/k3s/agent/images")))
        steps += [
            Step(
                (
                    "install",
                    "-m",
                    "0644",
                    _staged(spec, image),
                    f"/var/lib/rancher/k3s/agent/images/{image.path.name}",
                )
            )
            for image in images
        ]
    env = [("INSTALL_K3S_VERSION", spec.version)]
    if binary is not None:
        steps.append(Step(("install", "-m", "0755", _staged(spec, binary), "/usr/local/bin/k3s")))
        env.append(("INSTALL_K3S_SKIP_DOWNLOAD", "true"))
    # The arguments after the script become the service's command line: a server
    # with its defaults, which the k3s profile's expectations describe.
    steps.append(Step(("sh", script_path, "server"), env=tuple(env)))
    return InstallPlan(
        distro="k3s",
        version=spec.version,
        uploads=_uploads(spec),
        install=tuple(steps),
        kubeconfig=Step(("cat", "/etc/rancher/k3s/k3s.yaml"), timeout_s=30),
        uninstall=(Step(("/usr/local/bin/k3s-uninstall.sh",), check=False),),
        logs_script=_journal_or_file("k3s", "/var/log/k3s.log"),
        api_port=API_PORTS["k3s"],
        downloads=script is None or binary is None,
    )


def k0s_binary_url(version: str, machine: str) -> str:
    arch = ARCHES.get(machine)
    if arch is None:
        raise ValueError(
            f"no k0s release for machine architecture {machine!r}; "
            f"known: {', '.join(sorted(ARCHES))}"
        )
    # "+" in a URL path is literal for GitHub, but encode it as the k3s docs do.
    tag = quote(version, safe="")
    return f"{K0S_RELEASES_URL}/{tag}/k0s-{tag}-{arch}"


def _k0s(spec: PlanInput) -> InstallPlan:
    steps: list[Step] = []
    binary = _only(spec, "binary")
    if binary is None:
        url = k0s_binary_url(spec.version, spec.machine)
        steps.append(Step(("curl", "-sSfL", "-o", "/usr/local/bin/k0s", url)))
        steps.append(Step(("chmod", "0755", "/usr/local/bin/k0s")))
    else:
        steps.append(Step(("install", "-m", "0755", _staged(spec, binary), "/usr/local/bin/k0s")))
    images = [a for a in spec.artifacts if a.kind == "images"]
    if images:
        steps.append(Step(("mkdir", "-p", "/var/lib/k0s/images")))
        steps += [
            Step(
                (
                    "install",
                    "-m",
                    "0644",
                    _staged(spec, image),
                    f"/var/lib/k0s/images/{image.path.name}",
                )
            )
            for image in images
        ]
    steps += [
        Step(("/usr/local/bin/k0s", "install", "controller", "--single")),
        Step(("/usr/local/bin/k0s", "start")),
    ]
    return InstallPlan(
        distro="k0s",
        version=spec.version,
        uploads=_uploads(spec),
        install=tuple(steps),
        kubeconfig=Step(("/usr/local/bin/k0s", "kubeconfig", "admin"), timeout_s=30),
        uninstall=(
            Step(("/usr/local/bin/k0s", "stop"), check=False),
            Step(("/usr/local/bin/k0s", "reset"), check=False),
            Step(("rm", "-f", "/usr/local/bin/k0s"), check=False),
        ),
        logs_script=_journal_or_file("k0scontroller", "/var/log/k0scontroller.log"),
        api_port=API_PORTS["k0s"],
        downloads=binary is None,
        notes=("k0s reset asks for a reboot afterwards to clear network state",),
    )


def _microk8s(spec: PlanInput) -> InstallPlan:
    steps: list[Step] = []
    snap = _only(spec, "snap")
    assertion = _only(spec, "assert")
    if assertion is not None and snap is None:
        raise ValueError("a microk8s assertion file needs its snap file too")
    if snap is None:
        steps.append(
            Step(("snap", "install", "microk8s", "--classic", f"--channel={spec.version}"))
        )
    elif assertion is not None:
        steps.append(Step(("snap", "ack", _staged(spec, assertion))))
        steps.append(Step(("snap", "install", _staged(spec, snap), "--classic")))
    else:
        steps.append(Step(("snap", "install", _staged(spec, snap), "--classic", "--dangerous")))
    timeout = str(int(spec.ready_timeout_s))
    wait = Step(
        ("microk8s", "status", "--wait-ready", "--timeout", timeout),
        timeout_s=spec.ready_timeout_s + 30,
    )
    steps.append(wait)
    if spec.addons:
        # One addon a call: older releases take a single addon per 'enable'.
        steps += [Step(("microk8s", "enable", addon)) for addon in spec.addons]
        steps.append(wait)
    return InstallPlan(
        distro="microk8s",
        version=spec.version,
        uploads=_uploads(spec),
        install=tuple(steps),
        kubeconfig=Step(("microk8s", "config"), timeout_s=60),
        uninstall=(Step(("snap", "remove", "--purge", "microk8s"), check=False),),
        logs_script=_journal_or_file("snap.microk8s.daemon-kubelite", "/dev/null"),
        api_port=API_PORTS["microk8s"],
        downloads=snap is None,
        notes=(
            ()
            if snap is None
            else ("an offline snap still needs its base snap (core20/core22) on the machine",)
        ),
    )


def upgrade_steps(distro: str, target_version: str, *, ready_timeout_s: float) -> tuple[Step, ...]:
    """The distribution's own in-place upgrade on a machine, or () when not supported here.

    microk8s refreshes its snap to the target channel and waits until it is ready
    again (canonical/microk8s: ``snap refresh microk8s --channel=...``); since 1.22
    workloads are meant to keep running through it.
    """
    if distro != "microk8s":
        return ()
    timeout = str(int(ready_timeout_s))
    return (
        Step(("snap", "refresh", "microk8s", f"--channel={target_version}"), timeout_s=1800.0),
        Step(
            ("microk8s", "status", "--wait-ready", "--timeout", timeout),
            timeout_s=ready_timeout_s + 30,
        ),
    )


def parse_addons(value: str) -> tuple[str, ...]:
    """``dns,hostpath-storage,metallb:10.0.0.10-10.0.0.20`` as a tuple; ``ValueError`` if bad."""
    addons = tuple(item.strip() for item in value.split(",") if item.strip())
    if not addons:
        raise ValueError("no addon named")
    for addon in addons:
        name, sep, argument = addon.partition(":")
        if name not in MICROK8S_ADDONS:
            raise ValueError(f"{name!r} is not a microk8s addon this plugin knows")
        if name == "metallb" and not argument:
            # 'microk8s enable metallb' asks for the range interactively and would hang.
            raise ValueError(
                "metallb needs its address range, e.g. metallb:10.64.140.43-10.64.140.49"
            )
        if sep and name != "metallb" and not argument:
            raise ValueError(f"{addon!r} has an empty argument")
    return addons


def reachable_kubeconfig(data: Mapping[str, Any], host: str, port: int) -> dict[str, Any]:
    """``data`` pointed at ``host:port``, still verifying the server's own certificate.

    The distribution wrote an address its certificate lists (127.0.0.1 for k3s, the
    node's address for k0s and microk8s). When the pytest host reaches the API under
    another name or through forwarding, ``tls-server-name`` keeps the certificate check
    on the original address instead of switching it off.
    """
    original = kubeconfig.server(dict(data))
    original_host = urlsplit(original).hostname or ""
    url_host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    rewritten = kubeconfig.rewrite_server(dict(data), url_host, port)
    if original_host and original_host != host.strip("[]"):
        cluster = _current_cluster(rewritten)
        cluster.setdefault("tls-server-name", original_host)
    return rewritten


def _current_cluster(data: dict[str, Any]) -> dict[str, Any]:
    contexts = {c["name"]: c["context"] for c in data["contexts"]}
    name = contexts[data["current-context"]]["cluster"]
    for entry in data["clusters"]:
        if entry["name"] == name:
            cluster: dict[str, Any] = entry["cluster"]
            return cluster
    raise kubeconfig.KubeconfigError(f"cluster {name!r} is missing")


def render(steps: Sequence[Step], *, sudo: bool) -> str:
    """The steps as one shell script, for docs and for users who install by hand."""
    return "\n".join(step.shell(sudo=sudo) for step in steps)
