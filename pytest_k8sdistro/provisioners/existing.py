"""``--kubeconfig``: a cluster that is already running; nothing is started or stopped."""

from __future__ import annotations

from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import ConfigError
from pytest_k8sdistro.kube import kubeconfig
from pytest_k8sdistro.model.cluster import Cluster, Node
from pytest_k8sdistro.provisioners.base import Capabilities, Provisioner, ProvisionerConfig


class ExistingCluster(Provisioner):
    NAME = "existing"
    CAPABILITIES = Capabilities(
        starts_clusters=False,
        not_measurable_reason=(
            "the cluster was given with --kubeconfig: where its nodes run is unknown, and "
            "this machine's figures would be the wrong ones"
        ),
    )

    @classmethod
    def check_config(cls, config: ProvisionerConfig, specs: tuple[DistroSpec, ...]) -> None:
        if config.kubeconfig is None:
            raise ConfigError(
                f"--provisioner={cls.NAME} tests a cluster that is already running: give "
                "its kubeconfig with --kubeconfig=PATH"
            )

    def create(self, spec: DistroSpec, key: str) -> Cluster:
        if self.settings.kubeconfig is None:  # check_config refuses this before the run
            raise ConfigError("no --kubeconfig to test")
        data = kubeconfig.load(self.settings.kubeconfig)
        # A private copy, so that nothing the tests do can alter the user's file.
        path = kubeconfig.write_private(data, self.workdir / f"{key}.kubeconfig")
        return Cluster(
            key=key,
            distro=spec.name,
            version=spec.version,
            provisioner=self.NAME,
            kubeconfig=str(path),
            api_server=kubeconfig.server(data),
            created=False,
            nodes=[Node(name="local", role="unknown", host_spec="local://")],
        )

    def destroy(self, cluster: Cluster) -> None:
        """Nothing to do: the cluster belongs to the user."""

    def attach(self, cluster: Cluster) -> bool:
        return True
