"""The Docker provisioner: k3s and k0s nodes as containers, through the docker SDK.

One job per module: :mod:`.engine` (client, host facts), :mod:`.privileges`
(--privileged or the fallback), :mod:`.images` (pull, load, errors), :mod:`.labels`
(ownership), :mod:`.cleanup` (leftovers of dead runs), :mod:`.supervisor` (the
in-container supervisor), :mod:`.node` (container start spec), :mod:`.diagnostics`
and :mod:`.provisioner` (the class).
"""

from __future__ import annotations

from pytest_k8sdistro.provisioners.docker.provisioner import DockerProvisioner

__all__ = ["DockerProvisioner"]
