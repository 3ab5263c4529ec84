"""How the suites reach a node port or a load balancer's address from the pytest host."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.model.cluster import Cluster, RunIdentity
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners.base import Provisioner
from pytest_k8sdistro.provisioners.docker.provisioner import DockerProvisioner
from pytest_k8sdistro.provisioners.existing import ExistingCluster
from pytest_k8sdistro.provisioners.machine.host import HostProvisioner
from pytest_k8sdistro.suite import host_port, service_endpoint, url


def cluster(**ports: int) -> Cluster:
    return Cluster(
        key="k",
        distro="k3s",
        version="v1.36.5+k3s1",
        provisioner="docker",
        kubeconfig="/nonexistent",
        api_server="https://127.0.0.1:6443",
        ports={f"{port.removeprefix('p')}/tcp": local for port, local in ports.items()},
    )


def made(cls: type[Provisioner], tmp_path: Path) -> Provisioner:
    return cls(Settings(), RunIdentity.new(), tmp_path, Progress(None))


def test_a_port_the_provisioner_does_not_publish_skips_instead_of_failing() -> None:
    with pytest.raises(pytest.skip.Exception, match="node port 80 cannot be reached"):
        host_port(cluster(p8080=31000), 80, "the traefik ingress", evidence=None)
    assert host_port(cluster(p80=31001), 80, "the traefik ingress", evidence=None) == 31001


def test_a_load_balancer_is_reached_at_its_address_where_the_provisioner_routes_there(
    tmp_path: Path,
) -> None:
    published = cluster(p8080=31000)
    for cls in (HostProvisioner, ExistingCluster):
        reached = service_endpoint(
            made(cls, tmp_path), published, ["10.64.140.43"], 8080, "metallb", evidence=None
        )
        assert reached == ("10.64.140.43", 8080), cls
    # The docker provisioner does not route this host to the nodes' network: the published
    # node port (ServiceLB's hostPort) is used.
    docker = made(DockerProvisioner, tmp_path)
    with pytest.raises(LookupError, match="does not route this host"):
        docker.reach(published, "172.18.0.2", 8080)
    assert service_endpoint(docker, published, ["172.18.0.2"], 8080, "servicelb", None) == (
        "127.0.0.1",
        31000,
    )


def test_urls_bracket_ipv6_hosts() -> None:
    assert url("127.0.0.1", 80) == "http://127.0.0.1:80/"
    assert url("fd00::5", 8080, "/x") == "http://[fd00::5]:8080/x"
