"""Running a distribution's own in-place upgrade through the provisioner that started it.

Every provisioner that can upgrade says so in its capabilities and implements
:meth:`~pytest_k8sdistro.provisioners.base.Provisioner.upgrade`, which runs the
profile's procedure (:class:`~pytest_k8sdistro.distros.profile.Upgrade`) on every
node, servers first, and returns once each node's process was restarted (not once
the cluster is ready again: the suite measures that). It never recreates a node:
that would kill the pods the suite watches.
"""

from __future__ import annotations

from pytest_k8sdistro.errors import UpgradeUnsupported
from pytest_k8sdistro.model.cluster import Cluster
from pytest_k8sdistro.model.versions import reports_version
from pytest_k8sdistro.provisioners.base import Provisioner

__all__ = ["reports_version", "run_upgrade"]


def run_upgrade(
    provisioner: Provisioner, cluster: Cluster, target_version: str, *, image: str | None = None
) -> str:
    """Upgrade ``cluster`` in place to ``target_version``; returns what was done, in words."""
    if not provisioner.CAPABILITIES.upgrades:
        raise UpgradeUnsupported(
            f"the {provisioner.NAME} provisioner cannot upgrade {cluster.distro} in place"
        )
    return provisioner.upgrade(cluster, target_version, image=image)
