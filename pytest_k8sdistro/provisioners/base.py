"""The interface every provisioner implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.model.cluster import Cluster, RunIdentity
from pytest_k8sdistro.progress import Progress


class ProvisionError(RuntimeError):
    """Provisioning failed in a way the user can act on; the message says how."""


class Provisioner(ABC):
    """Brings a distribution up somewhere and takes it down again.

    A provisioner only starts and stops; deciding when the cluster is ready is
    the job of :mod:`pytest_k8sdistro.kube.readiness`, which may read :meth:`logs`.
    """

    NAME: ClassVar[str]

    def __init__(
        self, settings: Settings, run: RunIdentity, workdir: Path, progress: Progress
    ) -> None:
        self.settings = settings
        self.run = run
        self.workdir = workdir
        self.progress = progress

    def cleanup_leftovers(self) -> None:  # noqa: B027 - optional hook, nothing by default
        """Remove what runs whose process is gone left behind."""

    @abstractmethod
    def create(self, spec: DistroSpec, key: str) -> Cluster:
        """Start ``spec`` and return it once its kubeconfig is written (not yet ready)."""

    @abstractmethod
    def destroy(self, cluster: Cluster) -> None:
        """Remove everything :meth:`create` made for ``cluster``; never anything else."""

    def attach(self, cluster: Cluster) -> bool:
        """Whether a cluster kept by an earlier run is still there to be reused."""
        return False

    def keep(self, cluster: Cluster) -> None:  # noqa: B027 - optional hook, nothing by default
        """Mark ``cluster`` as kept, so that leftover clean-up spares it."""

    def logs(self, cluster: Cluster, tail: int = 40) -> str:
        """The last ``tail`` lines the distribution logged, or '' when unknown."""
        return ""

    def diagnostics(self, cluster: Cluster, dest: Path) -> None:  # noqa: B027
        """Write what helps to debug ``cluster`` under ``dest``."""
