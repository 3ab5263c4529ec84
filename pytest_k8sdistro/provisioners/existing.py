"""``--distro-kubeconfig``: a cluster that is already running; nothing is started or stopped."""

from __future__ import annotations

from pathlib import Path

from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import ConfigError, ProvisionError
from pytest_k8sdistro.kube import api, kubeconfig
from pytest_k8sdistro.model.cluster import Cluster, Node
from pytest_k8sdistro.provisioners.base import Capabilities, Provisioner, ProvisionerConfig


class ExistingCluster(Provisioner):
    NAME = "existing"
    CAPABILITIES = Capabilities(
        starts_clusters=False,
        not_measurable_reason=(
            "the cluster was given with --distro-kubeconfig: where its nodes run is unknown, and "
            "this machine's figures would be the wrong ones"
        ),
    )

    @classmethod
    def check_config(cls, config: ProvisionerConfig, specs: tuple[DistroSpec, ...]) -> None:
        if config.kubeconfig is None:
            raise ConfigError(
                f"--distro-provisioner={cls.NAME} tests a cluster that is already running: give "
                "its kubeconfig with --distro-kubeconfig=PATH"
            )

    def create(self, spec: DistroSpec, key: str) -> Cluster:
        if self.settings.kubeconfig is None:  # check_config refuses this before the run
            raise ConfigError("no --distro-kubeconfig to test")
        data = kubeconfig.load(self.settings.kubeconfig)
        # A private copy, so that nothing the tests do can alter the user's file.
        path = kubeconfig.write_private(data, self.workdir / f"{key}.kubeconfig")
        self._check_answers(path, kubeconfig.server(data))
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

    def reach(self, cluster: Cluster, address: str, port: int) -> tuple[str, int]:
        # Where the nodes run is unknown; a load balancer's address is where its clients
        # connect, and this host is one.
        return address, port

    @staticmethod
    def _check_answers(path: Path, server: str) -> None:
        """Fail within seconds, with the cause, when the API does not answer at all.

        A running cluster answers at once; waiting out the readiness timeout would
        only hide a wrong address, a refused connection, a name that does not resolve
        or a certificate that does not match.
        """
        try:
            client = api.api_client(path)
        except Exception as exc:
            raise ProvisionError(f"the kubeconfig cannot be used: {exc}") from None
        try:
            api.raw_get(client, "/version", timeout=ANSWER_TIMEOUT_S)
        except Exception as exc:
            reason = _root_cause(exc)
            raise ProvisionError(
                f"the API at {server} (from --distro-kubeconfig) does not answer: {reason}; "
                "check that the cluster runs and that the kubeconfig's server address and "
                "certificate are the ones this machine reaches it by"
            ) from None
        finally:
            client.close()  # type: ignore[no-untyped-call]

    def destroy(self, cluster: Cluster) -> None:
        """Nothing to do: the cluster belongs to the user."""

    def attach(self, cluster: Cluster) -> bool:
        return True


#: How long the API of a cluster given with --distro-kubeconfig may take to answer at all.
ANSWER_TIMEOUT_S = 5.0


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a client error, in words (refused, DNS, TLS, timeout)."""
    seen = exc
    while True:
        inner = getattr(seen, "reason", None)
        if isinstance(inner, BaseException):
            seen = inner
            continue
        if seen.__cause__ is not None:
            seen = seen.__cause__
            continue
        if seen.__context__ is not None and not seen.__suppress_context__:
            seen = seen.__context__
            continue
        return f"{type(seen).__name__}: {seen}"
