"""How the Docker provisioner builds node containers: no engine needed."""

from __future__ import annotations

import hashlib
import io
import ipaddress
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import docker.errors
import pytest
import yaml

from pytest_k8sdistro.distros.profile import Role
from pytest_k8sdistro.distros.registry import get_profile
from pytest_k8sdistro.errors import ProvisionError
from pytest_k8sdistro.model import cache
from pytest_k8sdistro.model.cluster import LOAD_BALANCER_PORTS, RunIdentity
from pytest_k8sdistro.provisioners.docker import (
    cleanup,
    images,
    labels,
    node,
    privileges,
    shipped,
    supervisor,
)
from pytest_k8sdistro.provisioners.docker.privileges import CANDIDATES, Privileges

FALLBACK = Privileges(privileged=False, cap_add=("ALL",), cap_drop=("SYS_RESOURCE",), kmsg="device")
RUN = RunIdentity(run_id="abc123def456", pid=os.getpid(), hostname="here")


def spec_for(distro: str, role: Role = "server", **kw: object) -> node.NodeSpec:
    start = get_profile(distro).container
    assert start is not None
    name = node.container_name("key", role, 0 if role == "server" else 1)
    args = (
        node.server_args(start, name) if role == "server" else node.agent_args(start, name, "TOKEN")
    )
    values: dict[str, object] = {
        "start": start,
        "role": role,
        "name": name,
        "image": f"img/{distro}:1",
        "args": args,
        "labels": labels.for_run(RUN, "key", role),
        "volumes": {f"{name}-data": "/data"},
        "publish": role == "server",
    }
    values.update(kw)
    return node.NodeSpec(**values)  # type: ignore[arg-type]


# -- container start spec -----------------------------------------------------------


def test_k3s_server_runs_under_the_supervisor_with_documented_flags() -> None:
    options = spec_for("k3s").create_options(node.HostFacts(False, Privileges(True)))
    assert options["entrypoint"][:2] == ["/bin/sh", "-c"]
    assert options["entrypoint"][3] == supervisor.NAME
    assert options["command"] == [
        "/bin/k3s",
        "server",
        "--tls-san=127.0.0.1",
        "--https-listen-port=6443",
        "--node-name=k8sdistro-key-server-0",
    ]
    assert options["name"] == options["hostname"] == "k8sdistro-key-server-0"
    assert options["privileged"] is True
    assert "cap_add" not in options
    assert options["tmpfs"] == {"/run": "", "/var/run": ""}
    assert options["cgroupns"] == "host"


def test_k0s_keeps_tini_as_pid_1_and_prepares_with_its_entrypoint() -> None:
    options = spec_for("k0s").create_options(node.HostFacts(True, Privileges(True)))
    assert options["entrypoint"][:5] == ["/sbin/tini", "--", "/bin/sh", "-c", supervisor.SCRIPT]
    assert options["command"] == [
        "/usr/local/bin/k0s",
        "controller",
        "--enable-worker",
        "--no-taints",
    ]
    env = options["environment"]
    assert (
        "K0S_ENTRYPOINT_ROLE=controller+worker /entrypoint.sh true" in env[supervisor.ENV_PREPARE]
    )
    # The k0s entrypoint nests cgroups itself; the supervisor must not do it twice.
    assert supervisor.ENV_CGROUP_NESTING not in env
    assert env["KUBECONFIG"] == "/var/lib/k0s/pki/admin.conf"
    assert options["cgroupns"] == "private"


def test_cgroup_v2_host_gets_private_namespace_and_nesting_for_k3s() -> None:
    options = spec_for("k3s").create_options(node.HostFacts(True, Privileges(True)))
    assert options["cgroupns"] == "private"
    assert options["environment"][supervisor.ENV_CGROUP_NESTING] == "1"


def test_api_and_ingress_ports_are_published_on_loopback_only() -> None:
    options = spec_for("k3s").create_options(node.HostFacts(False, Privileges(True)))
    assert options["ports"] == {
        f"{port}/tcp": ("127.0.0.1", None) for port in (6443, 80, 443, *LOAD_BALANCER_PORTS)
    }
    agent = spec_for("k3s", "agent").create_options(node.HostFacts(False, Privileges(True)))
    assert "ports" not in agent


def test_fallback_privileges_and_kmsg_device() -> None:
    options = spec_for("k3s").create_options(node.HostFacts(False, FALLBACK))
    assert "privileged" not in options
    assert options["cap_add"] == ["ALL"]
    assert options["cap_drop"] == ["SYS_RESOURCE"]
    assert options["security_opt"] == ["seccomp=unconfined", "apparmor=unconfined"]
    assert options["devices"] == ["/dev/kmsg:/dev/kmsg:rwm"]
    # Without --privileged, /sys and cgroups come read-only; the supervisor remounts.
    assert options["environment"][supervisor.ENV_REMOUNT_RW] == "1"
    assert "SYS_RESOURCE" in FALLBACK.describe()


def test_missing_kmsg_binds_dev_null_beside_the_data_volumes() -> None:
    host = node.HostFacts(False, Privileges(True, kmsg="null"))
    options = spec_for("k3s").create_options(host)
    assert options["volumes"] == {
        "/dev/null": {"bind": "/dev/kmsg", "mode": "rw"},
        "k8sdistro-key-server-0-data": {"bind": "/data", "mode": "rw"},
    }
    assert "/dev/null is bound" in host.privileges.describe()


def test_limits_are_applied_without_extra_swap() -> None:
    options = spec_for("k3s", memory=1 << 30, cpus=1.5).create_options(
        node.HostFacts(False, Privileges(True))
    )
    assert options["mem_limit"] == options["memswap_limit"] == 1 << 30
    assert options["nano_cpus"] == 1_500_000_000
    plain = spec_for("k3s").create_options(node.HostFacts(False, Privileges(True)))
    assert "mem_limit" not in plain and "nano_cpus" not in plain


def test_agents_join_per_distro() -> None:
    k3s = get_profile("k3s").container
    k0s = get_profile("k0s").container
    assert k3s is not None and k0s is not None
    assert node.agent_args(k3s, "n1", "T") == ["agent", "--node-name=n1"]
    assert node.agent_env(k3s, "srv", "T") == {
        "K3S_URL": "https://srv:6443",
        "K3S_TOKEN": "T",
    }
    assert node.agent_args(k0s, "n1", "T") == ["worker", "T"]
    assert node.agent_env(k0s, "srv", "T") == {}
    assert "K0S_ENTRYPOINT_ROLE=worker " in k0s.prepare["agent"]


def test_names_and_volume_names() -> None:
    assert (
        node.container_name("k3s-v1.36.5-k3s1", "agent", 2) == "k8sdistro-k3s-v1.36.5-k3s1-agent-2"
    )
    assert node.volume_name("c", "/var/lib/rancher/k3s") == "c-var-lib-rancher-k3s"


def test_network_options_are_labelled_bridge() -> None:
    options = node.network_options({"a": "b"})
    assert options["driver"] == "bridge" and options["labels"] == {"a": "b"}


def test_dual_stack_network_gets_ipv6_from_a_ula_subnet() -> None:
    options = node.network_options({"a": "b"}, ipv6_subnet="fd12:3456:789a:1::/64")
    assert options["enable_ipv6"] is True
    assert [pool["Subnet"] for pool in options["ipam"]["Config"]] == ["fd12:3456:789a:1::/64"]
    assert "ipam" not in node.network_options({"a": "b"})


def test_ula_subnets_are_unique_local_and_differ_per_seed_and_attempt() -> None:
    subnets = {node.ula_subnet(seed, attempt) for seed in ("a", "b") for attempt in (0, 1)}
    assert len(subnets) == 4
    for subnet in subnets:
        network = ipaddress.ip_network(subnet)
        assert network.prefixlen == 64
        assert network.subnet_of(ipaddress.ip_network("fd00::/8"))
    assert node.ula_subnet("a") == node.ula_subnet("a")


def test_dual_stack_k3s_gets_its_cidrs_node_ips_and_ipv6_sysctls() -> None:
    start = get_profile("k3s").container
    assert start is not None
    args = node.server_args(start, "n", dual_stack=True)
    assert "--cluster-cidr=10.42.0.0/16,2001:cafe:42::/56" in args
    assert "--service-cidr=10.43.0.0/16,2001:cafe:43::/112" in args
    # Servers and agents alike: the supervisor appends --node-ip=<v4>,<v6>.
    for role in ("server", "agent"):
        env = node.dual_stack_env(start, role)  # type: ignore[arg-type]
        assert env == {supervisor.ENV_NODE_IP_FLAG: "--node-ip"}
    options = spec_for("k3s", dual_stack=True, env=env).create_options(
        node.HostFacts(False, Privileges(True))
    )
    assert options["sysctls"] == {
        "net.ipv6.conf.all.disable_ipv6": "0",
        "net.ipv6.conf.all.forwarding": "1",
    }
    assert options["environment"][supervisor.ENV_NODE_IP_FLAG] == "--node-ip"
    assert "sysctls" not in spec_for("k3s").create_options(node.HostFacts(False, Privileges(True)))
    assert not any("cidr" in a for a in node.server_args(start, "n"))


def test_dual_stack_k0s_is_configured_through_its_entrypoint() -> None:
    start = get_profile("k0s").container
    assert start is not None
    assert "--config=/etc/k0s/config.yaml" in node.server_args(start, "n", dual_stack=True)
    env = node.dual_stack_env(start, "server")
    network = yaml.safe_load(env["K0S_CONFIG"])["spec"]["network"]
    assert network["dualStack"] == {
        "enabled": True,
        "IPv6podCIDR": "fd00::/108",
        "IPv6serviceCIDR": "fd01::/108",
    }
    # k0s finds its nodes' addresses itself, and workers get the config from the API.
    assert node.dual_stack_env(start, "agent") == {}


def test_supervisor_appends_both_addresses_from_etc_hosts(tmp_path: Path) -> None:
    # The snippet reads /etc/hosts; run it against a copy with the path swapped.
    start = supervisor.SCRIPT.index('if [ -n "${K8SDISTRO_NODE_IP_FLAG:-}" ]')
    end = supervisor.SCRIPT.index("unset K8SDISTRO_PREPARE")
    hosts = tmp_path / "hosts"
    hosts.write_text(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"
        "172.18.0.2\tnode-a\nfd00:1:2:1::2\tnode-a\n172.18.0.3\tother\n"
    )
    snippet = (
        'say() { echo "$*" >&2; }\n'
        + supervisor.SCRIPT[start:end].replace("/etc/hosts", str(hosts))
        + 'printf "%s\\n" "$@"\n'
    )
    env = {"PATH": os.environ["PATH"], "HOSTNAME": "node-a", "K8SDISTRO_NODE_IP_FLAG": "--node-ip"}
    out = subprocess.run(
        ["sh", "-c", snippet, "sh", "/bin/k3s", "server"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["/bin/k3s", "server", "--node-ip=172.18.0.2,fd00:1:2:1::2"]
    env["HOSTNAME"] = "other"  # IPv4 only: nothing appended, and it says why
    out = subprocess.run(
        ["sh", "-c", snippet, "sh", "/bin/k3s"], env=env, capture_output=True, text=True
    )
    assert out.stdout.split() == ["/bin/k3s"]
    assert "is the network IPv6-enabled?" in out.stderr


def test_supervisor_takes_the_distribution_as_arguments() -> None:
    entry = supervisor.entrypoint()
    # sh -c SCRIPT NAME then the command's words become "$@": no quoting problems.
    assert entry == ["/bin/sh", "-c", supervisor.SCRIPT, supervisor.NAME]
    assert supervisor.command("/bin/k3s", ("server", "--x=a b")) == [
        "/bin/k3s",
        "server",
        "--x=a b",
    ]
    for word in ("trap", "HUP", "TERM", supervisor.RESTART_FILE.rsplit("/", 1)[1]):
        assert word in supervisor.SCRIPT


def test_supervisor_script_is_valid_posix_sh() -> None:
    subprocess.run(["sh", "-n", "-c", supervisor.SCRIPT], check=True)


def test_privilege_candidates_start_with_privileged() -> None:
    assert CANDIDATES[0].privileged
    assert CANDIDATES[-1].cap_drop == ("SYS_RESOURCE",)


# -- labels and leftover decisions -------------------------------------------------


def test_labels_identify_run_process_and_cluster() -> None:
    found = labels.for_run(RUN, "k3s-x", "server")
    assert found[labels.OWNED] == "1"
    assert found[labels.RUN_ID] == RUN.run_id
    assert found[labels.PID] == str(os.getpid())
    assert found[labels.HOSTNAME] == "here"
    assert found[labels.CLUSTER] == "k3s-x"
    assert found[labels.ROLE] == "server"
    if sys.platform == "linux":
        assert found[labels.PID_START] == labels.process_start(os.getpid()) != ""
    owner = labels.Owner.from_labels(found)
    assert owner is not None and owner.pid == os.getpid()
    assert labels.Owner.from_labels({"unrelated": "1"}) is None


def owner(pid: int, start: str = "", host: str = "here") -> labels.Owner:
    return labels.Owner("run", pid, start, host, "key")


def test_owner_gone_only_when_certainly_dead_here() -> None:
    check = cleanup.OwnerCheck("here", alive=lambda pid: pid == 10, started=lambda pid: "t0")
    assert check.gone(owner(11))  # dead
    assert not check.gone(owner(10, "t0"))  # alive, same process
    assert check.gone(owner(10, "t-other"))  # pid reused by a later process
    assert not check.gone(owner(10))  # alive, nothing to compare: spare it
    assert not check.gone(owner(11, host="elsewhere"))  # other hosts' pids mean nothing here


def test_owner_check_with_real_processes() -> None:
    check = cleanup.OwnerCheck("here")
    assert not check.gone(owner(os.getpid(), labels.process_start(os.getpid())))
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.gone(owner(int(done.stdout)))


# -- images -------------------------------------------------------------------------


def test_pull_progress_is_summarised_not_spammed() -> None:
    said: list[str] = []
    now = [0.0]
    progress = images.PullProgress("r/k3s:v1", said.append, clock=lambda: now[0], every=5.0)
    for second in range(20):
        now[0] = float(second)
        progress.feed(
            {
                "status": "Downloading",
                "id": "l1",
                "progressDetail": {"current": second * 1_000_000, "total": 20_000_000},
            }
        )
    progress.feed({"status": "Pull complete", "id": "l1"})
    assert len(said) == 4  # at 0, 5, 10, 15 s
    assert said[-1] == "pulling r/k3s:v1: 0/1 layers, 15/20 MB"
    with pytest.raises(images._PullFailed, match="denied"):
        progress.feed({"error": "x", "errorDetail": {"message": "denied"}})


def test_how_to_supply_names_every_way() -> None:
    text = images.how_to_supply("rancher/k3s:v1.36.5-k3s1")
    assert "docker pull rancher/k3s:v1.36.5-k3s1" in text
    assert "docker save" in text and "--distro-image-archive" in text
    assert "--distro-image=" in text


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("rancher/k3s:v1.36.5-k3s1", ("rancher/k3s", "v1.36.5-k3s1")),
        ("localhost:5000/k3s", ("localhost:5000/k3s", "latest")),
        ("localhost:5000/k3s:v1", ("localhost:5000/k3s", "v1")),
        ("k3s@sha256:abc", ("k3s@sha256:abc", None)),
    ],
)
def test_split_ref(ref: str, expected: tuple[str, str | None]) -> None:
    assert images.split_ref(ref) == expected


def test_provision_error_is_the_base_type() -> None:
    assert issubclass(ProvisionError, RuntimeError)


class _ProbeContainer:
    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse
        self.removed: dict[str, object] | None = None

    def start(self) -> None:
        if self.refuse:
            raise docker.errors.APIError("unable to apply caps: operation not permitted")

    def wait(self, timeout: int) -> dict[str, int]:
        return {"StatusCode": 0}

    def remove(self, **kwargs: object) -> None:
        self.removed = kwargs


class _ProbeEngine:
    """Refuses the privileged probe, grants the next: what this project's machines do."""

    def __init__(self) -> None:
        self.made: list[_ProbeContainer] = []
        self.containers = self
        self.api = type("Api", (), {"base_url": f"fake://{id(self)}"})()

    def create(self, image: str, **options: object) -> _ProbeContainer:
        container = _ProbeContainer(refuse=bool(options.get("privileged")))
        self.made.append(container)
        return container


def test_privilege_probes_take_their_anonymous_volumes_with_them() -> None:
    # Node images declare volumes; a probe container made from one gets anonymous
    # volumes, which only remove(v=True) deletes along with it.
    engine = _ProbeEngine()
    found = privileges.detect(engine, "img/k3s:1", {})  # type: ignore[arg-type]
    assert not found.privileged
    assert len(engine.made) == 2
    assert all(c.removed == {"force": True, "v": True} for c in engine.made)


class _EngineWithInfo(_ProbeEngine):
    """A probe engine that says who it is, so its answer can be remembered."""

    def __init__(self, identity: str) -> None:
        super().__init__()
        self.identity = identity
        self.api = type("Api", (), {"base_url": "fake://engine"})()

    def info(self) -> dict[str, object]:
        return {"ID": self.identity, "ServerVersion": "28.2.2", "SecurityOptions": ["seccomp"]}


def test_the_privilege_probe_is_remembered_per_engine_across_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    privileges.forget()
    first = _EngineWithInfo("engine-a")
    found = privileges.detect(first, "img/k3s:1", {})  # type: ignore[arg-type]
    assert len(first.made) == 2  # --privileged refused, then the fallback
    # A new process (the next run) on the same engine: no probe container at all.
    privileges._cache.clear()
    said: list[str] = []
    again = _EngineWithInfo("engine-a")
    assert privileges.detect(again, "img/k3s:1", {}, said.append) == found  # type: ignore[arg-type]
    assert again.made == []
    assert "as probed earlier on this engine" in said[0]
    # Another engine (or the same one reconfigured) is probed afresh.
    privileges._cache.clear()
    other = _EngineWithInfo("engine-b")
    privileges.detect(other, "img/k3s:1", {})  # type: ignore[arg-type]
    assert len(other.made) == 2
    privileges.forget()
    assert not list((tmp_path / "cache").rglob("*.json"))


def _image_with(name: str) -> tuple[Any, _ProbeContainer, bytes]:
    """An engine whose containers' archives hold one 3-byte file ``name``."""
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bin"))
    source = _ProbeContainer(refuse=False)
    source.get_archive = lambda path: ([payload.getvalue()], {})  # type: ignore[attr-defined]
    engine = type("Engine", (), {})()
    engine.containers = type("Containers", (), {"create": lambda self, image, **kw: source})()
    return engine, source, payload.getvalue()


def test_the_binary_source_container_takes_its_anonymous_volumes_with_it() -> None:
    engine, source, data = _image_with("k3s")
    [got] = shipped.from_image(
        engine, "img/k3s:2", ["/bin/k3s"], labels={}, required="/bin/k3s", say=print
    )
    assert got.data == data
    assert got.entries == {"k3s": ("file", hashlib.sha256(b"bin").hexdigest())}
    assert source.removed == {"force": True, "v": True}


def test_an_upgrade_image_without_the_binary_is_refused_before_any_copy() -> None:
    engine, source, _ = _image_with("bin/containerd")
    with pytest.raises(ProvisionError, match="img/k3s:2 has no regular file /bin/k3s"):
        shipped.from_image(engine, "img/k3s:2", ["/bin"], labels={}, required="/bin/k3s", say=print)
    assert source.removed == {"force": True, "v": True}
