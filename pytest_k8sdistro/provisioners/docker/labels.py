"""Ownership labels on everything the Docker provisioner creates.

Every container, volume and network carries the run that made it, the process that
runs it (pid, its start time and the host), the cluster key and its role. Leftover
clean-up decides from these alone, and never touches anything without
:data:`OWNED`. Labels cannot be changed on a container once it exists, so a kept
cluster is marked by a separate, small volume (:func:`kept_marker`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_k8sdistro.model.cluster import RunIdentity
from pytest_k8sdistro.provisioners.process import process_start

PREFIX = "pytest-k8sdistro"
#: "1" on everything the plugin made: the one label every clean-up filters on.
OWNED = f"{PREFIX}.owned"
RUN_ID = f"{PREFIX}.run-id"
PID = f"{PREFIX}.pid"
#: When the owning process started (see :func:`process_start`): a pid alone can be reused.
PID_START = f"{PREFIX}.pid-start"
HOSTNAME = f"{PREFIX}.hostname"
CLUSTER = f"{PREFIX}.cluster"
#: server, agent, network, volume, probe or kept.
ROLE = f"{PREFIX}.role"
#: On a kept marker: the cluster (run id + key) that leftover clean-up must spare.
KEPT = f"{PREFIX}.kept"

ROLE_KEPT = "kept"


@dataclass(frozen=True)
class Owner:
    """Whose a resource is, as read back from its labels."""

    run_id: str
    pid: int
    pid_start: str
    hostname: str
    cluster: str

    @classmethod
    def from_labels(cls, labels: dict[str, str]) -> Owner | None:
        try:
            return cls(
                run_id=labels[RUN_ID],
                pid=int(labels[PID]),
                pid_start=labels.get(PID_START, ""),
                hostname=labels[HOSTNAME],
                cluster=labels.get(CLUSTER, ""),
            )
        except (KeyError, ValueError):
            return None


def for_run(run: RunIdentity, cluster: str, role: str) -> dict[str, str]:
    """The labels of a resource that ``run`` creates for ``cluster``."""
    return {
        OWNED: "1",
        RUN_ID: run.run_id,
        PID: str(run.pid),
        PID_START: process_start(run.pid),
        HOSTNAME: run.hostname,
        CLUSTER: cluster,
        ROLE: role,
    }


def kept_marker(run_id: str, cluster: str) -> dict[str, str]:
    """Labels of the marker volume that keeps ``run_id``'s ``cluster`` from clean-up."""
    return {OWNED: "1", ROLE: ROLE_KEPT, KEPT: "1", RUN_ID: run_id, CLUSTER: cluster}


def owned() -> dict[str, list[str]]:
    """A Docker ``filters`` argument matching everything the plugin made."""
    return {"label": [f"{OWNED}=1"]}


def of_cluster(run_id: str, cluster: str) -> dict[str, list[str]]:
    """Filters matching what run ``run_id`` made for ``cluster``."""
    return {"label": [f"{OWNED}=1", f"{RUN_ID}={run_id}", f"{CLUSTER}={cluster}"]}
