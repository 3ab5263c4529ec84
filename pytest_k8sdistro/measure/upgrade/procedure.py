"""Running a distribution's own in-place upgrade through the provisioner that started it.

A provisioner offers upgrades with one method::

    def upgrade(self, cluster: Cluster, target_version: str, *, image: str | None) -> None

which runs the profile's procedure (:class:`~pytest_k8sdistro.distros.profile.Upgrade`)
on every node, servers first, and returns once each node's process was restarted
(not once the cluster is ready again: the suite measures that). It must never
recreate a node: that would kill the pods the suite watches.

The docker provisioner's procedure is built here from what it already offers
(``replace_binary``): k3s and k0s both document replacing the binary and restarting
the process; k0s's "stop, replace, start" becomes "replace, then stop and start"
because the supervisor restarts the process in one step (the engine's copy
replaces the file rather than writing into it, so the running process is unaffected
until it is stopped).
Machine provisioners (host, ssh, multipass) run microk8s's ``snap refresh`` and k3s's
or k0s's install procedure; they need an ``upgrade`` method that does not exist yet.
"""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

from pytest_k8sdistro.distros.profile import DistroProfile
from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.model.cluster import Cluster
from pytest_k8sdistro.provisioners.base import Provisioner, ProvisionError


class UpgradeUnsupported(ProvisionError):
    """The provisioner cannot run the distribution's upgrade procedure."""


@runtime_checkable
class SupportsUpgrade(Protocol):
    def upgrade(self, cluster: Cluster, target_version: str, *, image: str | None) -> None: ...


def target_image(profile: DistroProfile, target_version: str, override: str | None) -> str:
    """The image the target binary is taken from: ``--upgrade-image`` or the official one."""
    image = override or profile.image(target_version)
    if image is None:
        raise UpgradeUnsupported(
            f"{profile.name} has no container image to take version {target_version} from; "
            f"it upgrades by {profile.upgrade.summary}"
        )
    return image


def run_upgrade(
    provisioner: Provisioner, cluster: Cluster, target_version: str, *, image: str | None = None
) -> str:
    """Upgrade ``cluster`` in place to ``target_version``; returns what was done, in words."""
    profile = DistroSpec(cluster.distro, cluster.version).profile
    if isinstance(provisioner, SupportsUpgrade):
        provisioner.upgrade(cluster, target_version, image=image)
        return profile.upgrade.summary
    replace_binary: Any = getattr(provisioner, "replace_binary", None)
    if profile.upgrade.method == "replace-binary" and callable(replace_binary):
        source = target_image(profile, target_version, image)
        replace_binary(cluster, source)
        return f"{profile.upgrade.summary}; binary from {source}"
    raise UpgradeUnsupported(
        f"the {provisioner.NAME} provisioner cannot upgrade {cluster.distro} in place: it has "
        f"no `upgrade(cluster, target_version, *, image)` method, which must run "
        f"{profile.upgrade.summary!r} on every node, servers first, without recreating "
        f"the node (see pytest_k8sdistro/upgrade.py). Not implemented yet for "
        f"{provisioner.NAME}"
    )


def reports_version(kubelet_version: str, target_version: str) -> bool:
    """Whether a node's ``kubeletVersion`` is ``target_version``.

    k3s reports its full version (``v1.34.2+k3s1``); k0s may drop the build number
    (``v1.34.2+k0s`` for ``v1.34.2+k0s.0``); a snap channel (``1.34/stable``) names
    only the minor release.
    """
    if kubelet_version == target_version:
        return True
    channel = re.fullmatch(r"v?(\d+\.\d+)(?:/\w+)?", target_version)
    if channel is not None:
        track = channel.group(1)
        return kubelet_version.lstrip("v").startswith(track + ".")
    upstream, _, suffix = kubelet_version.partition("+")
    target_upstream, _, target_suffix = target_version.partition("+")
    return upstream == target_upstream and bool(suffix) and target_suffix.startswith(suffix)
