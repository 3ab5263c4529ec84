"""In-place upgrades on machines: microk8s refreshes its snap; others say they can't."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from pytest_k8sdistro import Cluster, ProvisionError, RunIdentity
from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.distros.registry import get_profile
from pytest_k8sdistro.distros.spec import parse_distro
from pytest_k8sdistro.measure.upgrade.procedure import run_upgrade
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners.machine import lease
from pytest_k8sdistro.provisioners.machine.base import MachineProvisioner, Result, Target


class Recorder(Target):
    """A machine that runs nothing and remembers every command, as root."""

    description = "a recorded machine"

    def __init__(self) -> None:
        self.commands: list[tuple[str, ...]] = []

    def execute(self, argv: Sequence[str], *, timeout: float, stdin: bytes | None = None) -> Result:
        self.commands.append(tuple(argv))
        if argv[:2] == ["sh", "-c"]:
            return Result(rc=0, stdout="0\nx86_64\n", stderr="")
        return Result(rc=0, stdout="", stderr="")

    def spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        # The lease is this project's; what is recorded here is the distribution's.
        return lease.local_process(["sh", "-c", f"echo {lease.HELD_LINE}; exec cat >/dev/null"])

    def upload(self, source: Path, dest: str) -> None:
        raise AssertionError("an upgrade uploads nothing")

    def api_host(self) -> str:
        return "127.0.0.1"

    def node_spec(self) -> str:
        return "local://"


class Recorded(MachineProvisioner):
    NAME = "recorded"
    machine = Recorder()

    def target(self, key: str, *, creating: bool) -> Target:
        return self.machine


def cluster(distro: str, version: str) -> Cluster:
    return Cluster(
        key="k", distro=distro, version=version, provisioner="recorded",
        kubeconfig="/nonexistent", api_server="https://127.0.0.1:16443",
    )  # fmt: skip


def machine_upgrade(distro: str) -> object:
    machine = get_profile(distro).machine
    return machine.upgrade if machine is not None else None


def provisioner(tmp_path: Path, distro: str) -> Recorded:
    Recorded.machine = Recorder()
    settings = Settings(distros=(parse_distro(distro),), provisioner="host", ready_timeout=120)
    return Recorded(settings, RunIdentity.new(), tmp_path, Progress())


def test_microk8s_refreshes_its_snap_to_the_target_channel_then_waits(tmp_path: Path) -> None:
    made = provisioner(tmp_path, "microk8s")
    summary = run_upgrade(made, cluster("microk8s", "1.33/stable"), "1.34/stable")
    ran = [c for c in Recorded.machine.commands if lease.STATE_DIR not in " ".join(c)]
    assert ran[1:] == [
        ("snap", "refresh", "microk8s", "--channel=1.34/stable"),
        ("microk8s", "status", "--wait-ready", "--timeout", "120"),
    ]
    assert summary == "snap refresh microk8s --channel=<target>"


def test_other_distributions_on_machines_are_refused_with_a_way_out(tmp_path: Path) -> None:
    made = provisioner(tmp_path, "k3s")
    with pytest.raises(
        ProvisionError, match=r"knows no in-place upgrade of k3s on a machine.*from images"
    ):
        run_upgrade(made, cluster("k3s", "v1.36.5+k3s1"), "v1.37.1+k3s1")
    # Only the profile that knows a machine upgrade offers one.
    assert [n for n in ("k3s", "k0s", "microk8s") if machine_upgrade(n)] == ["microk8s"]
