"""``k8sdistro show``: what the plugin believes about a distribution at a version,
read from the same profiles the runs use, without starting anything."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Any

import pytest

from pytest_k8sdistro.cli import main as cli
from pytest_k8sdistro.distros.profile import EXPECTATION_FIELDS


def show(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert cli.main(["show", *args, "--json"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


@pytest.mark.parametrize(
    ("distro", "provisioner"),
    [("k3s", "docker"), ("k0s", "docker"), ("k3s", "ssh"), ("k0s", "host"), ("microk8s", "ssh")],
)
def test_the_json_has_the_documented_keys(
    capsys: pytest.CaptureFixture[str], distro: str, provisioner: str
) -> None:
    data = show(capsys, distro, f"--provisioner={provisioner}")
    assert data["distro"] == distro and data["version"] == data["default_version"]
    # Named as --distro-expect names them, every one of them.
    assert list(data["expectations"]) == list(EXPECTATION_FIELDS)
    assert data["sources"]
    assert ("container" in data) == (provisioner == "docker")
    assert ("install" in data) == (provisioner != "docker")


def test_the_expectations_follow_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    old = show(capsys, "microk8s:1.34/stable")
    new = show(capsys, "microk8s:1.35/stable")
    assert old["expectations"]["ingress_classes"] == ["public", "nginx"]
    assert new["expectations"]["ingress_classes"] == ["public", "nginx", "traefik"]
    assert [c["applies_here"] for c in new["by_version"]] == [True]
    assert [c["applies_here"] for c in old["by_version"]] == [False]


def test_machine_installs_and_container_starts_are_the_commands_a_run_uses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    k0s = show(capsys, "k0s:v1.37.1+k0s.0", "--provisioner=ssh")
    assert "/usr/local/bin/k0s install controller --enable-worker --no-taints" in k0s["install"]
    assert not any("--single" in command for command in k0s["install"])
    k3s = show(capsys, "k3s", "--provisioner=docker")
    assert k3s["container"]["command"][:2] == ["/bin/k3s", "server"]
    assert k3s["container"]["image"] == k3s["image"] == "rancher/k3s:v1.36.5-k3s1"
    assert all(host == "127.0.0.1" for host, _ in k3s["container"]["ports"].values())


def test_bad_input_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["show", "nosuch"]) == 2
    assert "unknown distribution 'nosuch'; known distributions: k3s" in capsys.readouterr().err
    assert cli.main(["show", "microk8s", "--provisioner=docker"]) == 2
    assert "--provisioner=docker cannot bring microk8s up" in capsys.readouterr().err
    # One output form: argparse names the pair and exits 2, without a traceback.
    with pytest.raises(SystemExit) as exited:
        cli.main(["show", "k3s", "--json", "--markdown"])
    assert exited.value.code == 2
    assert "argument --markdown: not allowed with argument --json" in capsys.readouterr().err


def test_the_installed_command_prints_text() -> None:
    command = shutil.which("k8sdistro", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert command is not None, "the package installs a k8sdistro command"
    done = subprocess.run(
        [command, "show", "k3s"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "k3s v1.36.5+k3s1" in done.stdout
    assert "ingress_classes" in done.stdout and "k3s-io/k3s:package/Dockerfile" in done.stdout


def test_a_provisioner_that_joins_agents_shows_the_join_with_the_token_hidden(
    capsys: pytest.CaptureFixture[str],
) -> None:
    k3s = show(capsys, "k3s", "--provisioner=qemu")
    assert k3s["join_token_command"] == "cat /var/lib/rancher/k3s/server/token"
    (agent,) = [command for command in k3s["join"] if "install.sh agent" in command]
    assert "K3S_URL=https://SERVER:6443" in agent and "K3S_TOKEN=***" in agent
    # One machine, one node: nothing to join over ssh.
    assert "join" not in show(capsys, "k3s", "--provisioner=ssh")
    assert cli.main(["show", "k3s", "--provisioner=qemu"]) == 0
    assert "agents (--distro-nodes): the token from" in capsys.readouterr().out
