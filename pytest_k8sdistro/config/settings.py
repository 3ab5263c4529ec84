"""The run's settings, gathered from options and ini values and checked together."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pytest_k8sdistro.config.options import keep_policy, timeout_seconds
from pytest_k8sdistro.distros import microk8s as microk8s_profile
from pytest_k8sdistro.distros import overrides as expectfile
from pytest_k8sdistro.distros.install import ARTIFACT_KINDS, Artifact
from pytest_k8sdistro.distros.registry import Expectations
from pytest_k8sdistro.distros.spec import DistroSpec, parse_distro
from pytest_k8sdistro.kube import kubeconfig
from pytest_k8sdistro.measure.upgrade import plan as upgrade_options
from pytest_k8sdistro.model.policy import KeepPolicy
from pytest_k8sdistro.provisioners import registry as provisioners

settings_key = pytest.StashKey["Settings"]()


@dataclass(frozen=True)
class Settings:
    """Defaults are the options' defaults, so code outside pytest names only what differs."""

    distros: tuple[DistroSpec, ...]
    image: str | None = None
    image_archive: Path | None = None
    kubeconfig: Path | None = None
    keep: KeepPolicy = KeepPolicy.NEVER
    reuse: bool = False
    strict_features: bool = False
    nodes: int = 1
    #: ``--ip-family``: "ipv4", or "dual" for dual-stack clusters.
    ip_family: str = "ipv4"
    #: ``--datastore``: an external database started beside k3s, or None.
    datastore: str | None = None
    #: ``--datastore-image``: the image of that database, or None for the default.
    datastore_image: str | None = None
    node_memory: int | None = None
    node_cpus: float | None = None
    ready_timeout: float | None = None
    #: The name of the provisioner that brings clusters up for this run.
    provisioner: str = "docker"
    #: ``--distro-expect`` changes, by distribution name.
    expect_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: What the provisioner works on, when it takes an address (``ssh://user@host``).
    provisioner_target: str | None = None
    #: ``--allow-host-install``: the host provisioner may change this machine.
    allow_host_install: bool = False
    #: ``--distro-addons`` (microk8s), or None when not given.
    distro_addons: tuple[str, ...] | None = None
    #: ``--install-artifact``: local files installed instead of downloads.
    install_artifacts: tuple[Artifact, ...] = ()
    #: ``--upgrade-to`` and its companions (the upgrade suite), or None when not given.
    upgrade: upgrade_options.UpgradePlan | None = None

    def expectations(self, spec: DistroSpec) -> Expectations:
        """The profile's expectations for ``spec`` with the vendor's changes applied."""
        expectations = spec.profile.expectations
        if spec.name == "microk8s" and (
            self.distro_addons is not None or self.provisioner in MACHINE_PROVISIONERS
        ):
            # A microk8s this run installs, or one whose addons were named, offers
            # what its enabled addons add and nothing more.
            expectations = microk8s_profile.with_addons(expectations, self.distro_addons or ())
        if self.datastore is not None and spec.name == "k3s":
            # Asked for: the cluster runs on the database started beside it.
            expectations = expectations.with_overrides({"datastore": self.datastore})
        return expectations.with_overrides(self.expect_overrides.get(spec.name, {}))


#: Provisioners that install a distribution on a machine (provisioners/machine.py).
MACHINE_PROVISIONERS = ("host", "ssh", "multipass")


def from_config(config: pytest.Config) -> Settings:
    """Build and check the run's settings; every problem is a :class:`pytest.UsageError`."""
    option = config.option
    raw_distros: list[str] = option.distro or config.getini("k8sdistro_distros")
    distros = tuple(dict.fromkeys(parse_distro(value) for value in raw_distros))

    keep = option.keep_cluster
    if keep is None:
        keep = keep_policy(config.getini("k8sdistro_keep_cluster"))
    timeout = option.ready_timeout
    if timeout is None and config.getini("k8sdistro_ready_timeout"):
        timeout = timeout_seconds(
            config.getini("k8sdistro_ready_timeout"), flag="k8sdistro_ready_timeout"
        )

    registry = provisioners.registry(config)
    provisioner = option.provisioner or ("existing" if option.k8sdistro_kubeconfig else "docker")
    provisioner, target = _provisioner_and_target(provisioner)
    if provisioner not in registry:
        raise pytest.UsageError(
            f"--provisioner={provisioner!r} is not a known provisioner; "
            f"known: {', '.join(sorted(registry))} (ssh as ssh://user@host[:port])"
        )
    settings = Settings(
        distros=distros,
        image=option.distro_image,
        image_archive=Path(option.distro_image_archive) if option.distro_image_archive else None,
        kubeconfig=Path(option.k8sdistro_kubeconfig) if option.k8sdistro_kubeconfig else None,
        keep=keep,
        reuse=option.reuse_cluster,
        strict_features=option.strict_features,
        nodes=option.nodes,
        ip_family=option.ip_family,
        datastore=option.datastore,
        datastore_image=option.datastore_image,
        node_memory=option.node_memory,
        node_cpus=option.node_cpus,
        ready_timeout=timeout,
        provisioner=provisioner,
        expect_overrides=_expect_overrides(option.distro_expect),
        provisioner_target=target,
        allow_host_install=option.allow_host_install,
        distro_addons=option.distro_addons,
        install_artifacts=tuple(option.install_artifact or ()),
    )
    _check_image(settings)
    _check_kubeconfig(settings)
    _check_reuse(settings, explicit_keep=option.keep_cluster)
    _check_provisioner(settings)
    _check_machine(settings)
    _check_ip_family(settings)
    _check_datastore(settings)
    return replace(settings, upgrade=upgrade_options.plan(option, settings))


def _provisioner_and_target(value: str) -> tuple[str, str | None]:
    """``ssh://user@host`` -> ("ssh", the URL): the registry is keyed by the scheme."""
    if "://" not in value:
        if value == "ssh":
            raise pytest.UsageError(
                "--provisioner=ssh needs the machine: --provisioner=ssh://user@host[:port]"
            )
        return value, None
    scheme = urlsplit(value).scheme
    if scheme != "ssh":
        raise pytest.UsageError(
            f"--provisioner={value!r}: only ssh:// takes an address "
            "(ssh://user@host[:port]); other provisioners are named plainly"
        )
    from pytest_k8sdistro.provisioners.machine.ssh import parse_url

    try:
        parse_url(value)
    except ValueError as exc:
        raise pytest.UsageError(f"--provisioner={value!r}: {exc}") from None
    return scheme, value


def _expect_overrides(value: str | None) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    try:
        return expectfile.load(Path(value))
    except expectfile.ExpectFileError as exc:
        raise pytest.UsageError(f"--distro-expect: {exc}") from None


def _check_image(settings: Settings) -> None:
    if settings.image is not None:
        if len(settings.distros) != 1:
            raise pytest.UsageError(
                f"--distro-image={settings.image!r} needs exactly one --distro to say which "
                f"distribution's contract the image follows (got {len(settings.distros)}); "
                "e.g. --distro=k3s --distro-image=REF"
            )
        if not settings.image.strip() or any(c.isspace() for c in settings.image):
            raise pytest.UsageError(f"--distro-image={settings.image!r} is not an image reference")
    archive = settings.image_archive
    if archive is not None and not archive.is_file():
        raise pytest.UsageError(
            f"--distro-image-archive={str(archive)!r}: no such file; give the path of a "
            "tarball made by 'docker save'"
        )


def _check_kubeconfig(settings: Settings) -> None:
    if settings.kubeconfig is None:
        return
    path = str(settings.kubeconfig)
    if len(settings.distros) != 1:
        raise pytest.UsageError(
            f"--kubeconfig={path!r} needs exactly one --distro naming the distribution that "
            f"runs there, so its expectations apply (got {len(settings.distros)}); "
            "e.g. --kubeconfig=PATH --distro=k3s"
        )
    conflicts = [
        flag
        for flag, given in (
            ("--distro-image", settings.image is not None),
            ("--distro-image-archive", settings.image_archive is not None),
            ("--reuse-cluster", settings.reuse),
            ("--nodes", settings.nodes != 1),
            ("--ip-family", settings.ip_family != "ipv4"),
            ("--datastore", settings.datastore is not None),
            ("--node-memory", settings.node_memory is not None),
            ("--node-cpus", settings.node_cpus is not None),
        )
        if given
    ]
    if settings.provisioner != "existing":
        conflicts.append("--provisioner")
    if conflicts:
        raise pytest.UsageError(
            f"--kubeconfig tests a cluster that is already running, so {', '.join(conflicts)} "
            "cannot apply; drop them, or drop --kubeconfig to let the plugin start a cluster"
        )
    try:
        kubeconfig.load(settings.kubeconfig)
    except kubeconfig.KubeconfigError as exc:
        raise pytest.UsageError(f"--kubeconfig: {exc}") from None


def _check_reuse(settings: Settings, *, explicit_keep: KeepPolicy | None) -> None:
    if settings.reuse and explicit_keep is not None and explicit_keep is not KeepPolicy.ALWAYS:
        raise pytest.UsageError(
            f"--reuse-cluster keeps the cluster for the next run, which "
            f"--keep-cluster={explicit_keep.value} contradicts; drop one of them"
        )


def _check_provisioner(settings: Settings) -> None:
    if settings.provisioner != "docker":
        return
    for spec in settings.distros:
        if spec.profile.container is None:
            raise pytest.UsageError(
                f"--distro={spec}: {spec.name} is a snap and cannot run in a container "
                "(canonical/microk8s#233). Run it on a machine instead: "
                "--provisioner=host --allow-host-install installs it on this machine "
                "(a throwaway one), --provisioner=ssh://user@host[:port] on a machine "
                "reached by SSH, --provisioner=multipass in a throwaway VM; or test one you "
                "installed with 'microk8s config > microk8s.yaml' and "
                f"--distro={spec.name} --kubeconfig=microk8s.yaml"
            )


def _check_ip_family(settings: Settings) -> None:
    if settings.ip_family == "ipv4" or settings.provisioner not in MACHINE_PROVISIONERS:
        return
    raise pytest.UsageError(
        f"--ip-family={settings.ip_family} is for the docker provisioner, which makes the "
        f"IPv6-enabled network itself; --provisioner={settings.provisioner} installs on a "
        "machine whose network it does not control. Start the cluster dual-stack there "
        "yourself and test it with --kubeconfig"
    )


def _check_datastore(settings: Settings) -> None:
    if settings.datastore is None:
        if settings.datastore_image is not None:
            raise pytest.UsageError(
                f"--datastore-image={settings.datastore_image!r} needs --datastore=postgres "
                "or --datastore=mysql to say which database it is"
            )
        return
    others = sorted({spec.name for spec in settings.distros} - {"k3s"})
    if others:
        raise pytest.UsageError(
            f"--datastore={settings.datastore}: only k3s takes an external datastore "
            f"(--datastore-endpoint), not {', '.join(others)}; run those without it"
        )
    if settings.provisioner in MACHINE_PROVISIONERS:
        raise pytest.UsageError(
            f"--datastore={settings.datastore} starts the database as a container beside "
            f"the node: it is for the docker provisioner, not {settings.provisioner}"
        )
    image = settings.datastore_image
    if image is not None and (not image.strip() or any(c.isspace() for c in image)):
        raise pytest.UsageError(f"--datastore-image={image!r} is not an image reference")


def _check_machine(settings: Settings) -> None:
    """Options of the host, ssh and multipass provisioners, checked together."""
    machine = settings.provisioner in MACHINE_PROVISIONERS
    if settings.provisioner == "host" and not settings.allow_host_install:
        raise pytest.UsageError(
            "--provisioner=host installs the distribution on this machine as system "
            "services and removes it afterwards; allow that with --allow-host-install "
            "(only on a throwaway machine), or use --provisioner=ssh://user@host or "
            "--provisioner=multipass"
        )
    if machine:
        conflicts = [
            flag
            for flag, given in (
                ("--distro-image", settings.image is not None),
                ("--distro-image-archive", settings.image_archive is not None),
                ("--nodes", settings.nodes != 1),
            )
            if given
        ]
        if settings.provisioner != "multipass":
            conflicts += [
                flag
                for flag, given in (
                    ("--node-memory", settings.node_memory is not None),
                    ("--node-cpus", settings.node_cpus is not None),
                )
                if given
            ]
        if conflicts:
            raise pytest.UsageError(
                f"--provisioner={settings.provisioner} installs one node on a machine, so "
                f"{', '.join(conflicts)} cannot apply; drop them (images and node counts "
                "are for the docker provisioner)"
            )
    if settings.provisioner == "multipass" and shutil.which("multipass") is None:
        raise pytest.UsageError(
            "--provisioner=multipass needs the multipass CLI, which is not on PATH: "
            "install it from https://multipass.run (Linux: snap install multipass), or use "
            "--provisioner=host --allow-host-install or --provisioner=ssh://user@host"
        )
    if settings.install_artifacts:
        if not machine:
            raise pytest.UsageError(
                "--install-artifact is for the host, ssh and multipass provisioners; "
                "with docker, load images with --distro-image-archive"
            )
        if len(settings.distros) != 1:
            raise pytest.UsageError(
                "--install-artifact needs exactly one --distro, the one the files belong to "
                f"(got {len(settings.distros)})"
            )
        spec = settings.distros[0]
        accepted = ARTIFACT_KINDS[spec.name]
        for artifact in settings.install_artifacts:
            if artifact.kind not in accepted:
                raise pytest.UsageError(
                    f"--install-artifact={artifact.kind}={artifact.path}: {spec.name} "
                    f"installs from {', '.join(accepted)} files, not {artifact.kind}"
                )
    if settings.distro_addons is not None and not any(
        spec.name == "microk8s" for spec in settings.distros
    ):
        raise pytest.UsageError(
            "--distro-addons names microk8s addons; add --distro=microk8s or drop it"
        )
