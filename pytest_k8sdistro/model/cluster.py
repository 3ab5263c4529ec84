"""A running cluster as the plugin records it, shareable between pytest-xdist workers."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_k8sdistro.model.datastore import ExternalDatastore

#: Node ports published besides the API and 80/443, so that LoadBalancer Services
#: (a service load balancer that binds hostPorts on the node) can be reached from the host.
#: Docker cannot publish ports on a running container, so they are fixed up front.
LOAD_BALANCER_PORTS: tuple[int, ...] = (8080, 8443)
#: Node ports the suites reach from the pytest host: ingress (80, 443) and the
#: load-balancer ports; machine provisioners forward these.
SUITE_NODE_PORTS: tuple[int, ...] = (80, 443, *LOAD_BALANCER_PORTS)


@dataclass(frozen=True)
class RunIdentity:
    """Who owns what a run creates: labels on every resource are made from this."""

    run_id: str
    pid: int
    hostname: str

    @classmethod
    def new(cls) -> RunIdentity:
        return cls(run_id=uuid.uuid4().hex[:12], pid=os.getpid(), hostname=socket.gethostname())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunIdentity:
        return cls(run_id=data["run_id"], pid=int(data["pid"]), hostname=data["hostname"])


@dataclass
class Node:
    name: str
    role: str
    #: A testinfra host spec reaching into the node: docker://ID, ssh://user@host, local://.
    host_spec: str


@dataclass
class Cluster:
    """One cluster the run uses; everything in it is plain data, saved as JSON."""

    key: str
    distro: str
    version: str
    provisioner: str
    kubeconfig: str
    api_server: str
    image: str | None = None
    nodes: list[Node] = field(default_factory=list)
    #: Whether this run started it (and so may stop it).
    created: bool = True
    #: Node ports reachable from the pytest host: "80/tcp" -> port on 127.0.0.1.
    ports: dict[str, int] = field(default_factory=dict)
    #: Provisioner-specific facts: container ids, network, volumes.
    details: dict[str, Any] = field(default_factory=dict)
    #: Seconds from the start of provisioning to each readiness stage.
    timings: dict[str, float] = field(default_factory=dict)
    #: The external database the control plane keeps its state in, when one was
    #: started beside it (``--distro-datastore``).
    datastore: ExternalDatastore | None = None

    def host_port(self, node_port: int, protocol: str = "tcp") -> int:
        """The port on 127.0.0.1 that reaches ``node_port`` of the first node.

        Only ports the provisioner publishes are reachable: the API, 80 and 443
        (ingress), and :data:`LOAD_BALANCER_PORTS`.
        """
        key = f"{node_port}/{protocol}"
        if key not in self.ports:
            raise LookupError(
                f"node port {key} is not published by the {self.provisioner} provisioner; "
                f"published: {', '.join(sorted(self.ports)) or 'none'}"
            )
        return self.ports[key]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cluster:
        values = dict(data)
        values["nodes"] = [Node(**node) for node in data.get("nodes", [])]
        values["datastore"] = ExternalDatastore.from_dict(data.get("datastore"))
        return cls(**values)
