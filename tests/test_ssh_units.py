"""The ssh and multipass provisioners' command construction, without a machine.

multipass is not installed on the project's machines: only the commands are
checked here; launching, exec and delete need a machine with multipass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_k8sdistro.provisioners.machine import multipass
from pytest_k8sdistro.provisioners.machine.ssh import (
    SshAddress,
    node_spec,
    parse_url,
    ssh_command,
)


def test_url_with_everything() -> None:
    address = parse_url("ssh://ci@vm.example:2222?ssh_identity_file=/k/id&api=127.0.0.1:16443")
    assert address == SshAddress(
        host="vm.example",
        user="ci",
        port=2222,
        identity_file="/k/id",
        api_host="127.0.0.1",
        api_port=16443,
    )
    assert ssh_command(address, "id -u") == [
        "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "-i", "/k/id",
        "-p", "2222", "-l", "ci", "--", "vm.example", "id -u",
    ]  # fmt: skip


def test_bare_host_uses_the_users_ssh_defaults() -> None:
    address = parse_url("ssh://vm")
    assert ssh_command(address, "true")[-3:] == ["--", "vm", "true"]
    assert node_spec(address, sudo=False) == "ssh://vm"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ssh://", "names no host"),
        ("ssh://ci@vm:99999", "port is not a number"),
        ("ssh://ci:secret@vm", "only key authentication"),
        ("ssh://ci@vm/path", "has a path"),
        (
            "ssh://ci@vm?password=x",
            r"unknown query parameter\(s\) password; accepted: ssh_identity_file",
        ),
        ("ssh://ci@vm?api=nohost", "is not HOST:PORT"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_url(url)


def test_node_spec_is_testinfras_ssh_backend_with_sudo() -> None:
    import testinfra.backend

    address = parse_url("ssh://ci@127.0.0.1:2200?ssh_config=/tmp/a b/cfg")
    spec = node_spec(address, sudo=True)
    host, options = testinfra.backend.parse_hostspec(spec)
    assert host == "ci@127.0.0.1:2200"
    assert options == {"connection": "ssh", "sudo": True, "ssh_config": "/tmp/a b/cfg"}


def test_multipass_commands() -> None:
    name = multipass.vm_name("microk8s-1.33-stable")
    assert name == "k8sdistro-microk8s-1-33-stable"
    assert multipass.launch_command(
        name, cloud_init=Path("/w/ci.yaml"), cpus=None, memory=None, image=None
    ) == [
        "multipass", "launch", "--name", name, "--cpus", "2", "--memory", "4G",
        "--disk", "20G", "--cloud-init", "/w/ci.yaml", "--timeout", "900",
    ]  # fmt: skip
    assert multipass.launch_command(
        name, cloud_init=Path("/c"), cpus=3.0, memory=8 * 1024**3, image="24.04"
    )[4:8] == ["--cpus", "3", "--memory", str(8 * 1024**3)]
    assert multipass.exec_command(name, ["sudo", "-n", "--", "microk8s", "config"]) == [
        "multipass", "exec", name, "--", "sudo", "-n", "--", "microk8s", "config",
    ]  # fmt: skip
    assert multipass.transfer_command(name, Path("/a/m.snap"), "/tmp/x/m.snap") == [
        "multipass", "transfer", "/a/m.snap", f"{name}:/tmp/x/m.snap",
    ]  # fmt: skip
    # One instance, purged by name: never a bare 'multipass purge'.
    assert multipass.delete_command(name) == ["multipass", "delete", "--purge", name]


def test_multipass_address_and_cloud_init() -> None:
    info = '{"errors": [], "info": {"vm": {"ipv4": ["10.1.2.3", "10.1.2.4"], "state": "Running"}}}'
    assert multipass.address_from_info("vm", info) == "10.1.2.3"
    assert multipass.cloud_init("ssh-ed25519 AAA k\n") == (
        "#cloud-config\nssh_authorized_keys:\n  - ssh-ed25519 AAA k\n"
    )


def test_multipass_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(multipass.ProvisionError, match="needs the multipass CLI"):
        multipass._run(["multipass", "version"], timeout=5)
