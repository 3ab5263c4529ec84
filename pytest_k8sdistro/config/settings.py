"""The run's settings, gathered from options and ini values and checked together.

Every cross-check reads what the chosen provisioner declares
(:class:`~pytest_k8sdistro.provisioners.base.Capabilities`) and what each
distribution's profile says; none names a provisioner or a distribution. Problems
found below this layer arrive as :class:`~pytest_k8sdistro.errors.ConfigError` and
leave as :class:`pytest.UsageError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

from pytest_k8sdistro.config import parse
from pytest_k8sdistro.config.options import (
    DEFAULT_SUITE_HOLD_S,
    DEFAULT_SUITE_IMAGE,
    DEFAULT_SUITE_TIMEOUT_S,
    keep_policy,
    suite_hold,
    suite_timeout,
    timeout_seconds,
)
from pytest_k8sdistro.distros import overrides
from pytest_k8sdistro.distros.profile import Expectations
from pytest_k8sdistro.distros.registry import get_profile, known_distros
from pytest_k8sdistro.distros.spec import DistroSpec, parse_distro
from pytest_k8sdistro.errors import ConfigError
from pytest_k8sdistro.kube import kubeconfig
from pytest_k8sdistro.measure.upgrade.plan import UpgradePlan, plan
from pytest_k8sdistro.model.policy import KeepPolicy
from pytest_k8sdistro.model.timeouts import Timeouts
from pytest_k8sdistro.provisioners import registry as provisioners
from pytest_k8sdistro.provisioners.base import (
    Capabilities,
    Provisioner,
    ProvisionerConfig,
    Unchosen,
)

settings_key = pytest.StashKey["Settings"]()

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Settings(ProvisionerConfig):
    """Defaults are the options' defaults, so code outside pytest names only what differs."""

    distros: tuple[DistroSpec, ...] = ()
    keep: KeepPolicy = KeepPolicy.NEVER
    reuse: bool = False
    strict_features: bool = False
    #: The name of the provisioner that brings clusters up for this run.
    provisioner: str = provisioners.DEFAULT
    #: What that provisioner can do (its class says); found from the built-in
    #: registry when not given (settings made outside pytest).
    capabilities: Capabilities | None = None
    #: ``--distro-expect`` changes, by distribution name.
    expect_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ``--distro-upgrade-to`` and its companions (the upgrade suite), or None when not given.
    upgrade: UpgradePlan | None = None
    #: ``--distro-suite-timeout`` and ``--distro-suite-hold``: how long suite checks wait.
    suite_timeouts: Timeouts = field(
        default_factory=lambda: Timeouts(DEFAULT_SUITE_TIMEOUT_S, DEFAULT_SUITE_HOLD_S)
    )
    #: ``--distro-suite-image``: the image the suites' workloads run.
    suite_image: str = DEFAULT_SUITE_IMAGE

    def __post_init__(self) -> None:
        if self.capabilities is None:
            known = provisioners.BUILTIN.get(self.provisioner)
            found = provisioners.load(known).CAPABILITIES if known else Capabilities()
            object.__setattr__(self, "capabilities", found)

    @property
    def can(self) -> Capabilities:
        """The provisioner's capabilities (always set after construction)."""
        assert self.capabilities is not None
        return self.capabilities

    def expectations(self, spec: DistroSpec) -> Expectations:
        """What ``spec`` is expected to offer in this run: the profile's expectations at
        its version, as the run shapes it (addons, an external datastore), with the
        vendor's changes on top."""
        profile = spec.profile
        expectations = profile.expectations_at(spec.version)
        if profile.addons is not None and (
            self.distro_addons is not None or self.can.enables_addons
        ):
            # A distribution this run installs, or one whose addons were named, offers
            # what its enabled addons add and nothing more.
            expectations = profile.addons.apply(expectations, self.distro_addons or ())
        if self.datastore is not None and profile.datastores is not None:
            # Asked for: the cluster runs on the database started beside it.
            expectations = expectations.with_overrides({"datastore": self.datastore})
        return expectations.with_overrides(self.expect_overrides.get(spec.name, {}))


@contextmanager
def _usage(where: str = "") -> Iterator[None]:
    """Lower layers' :class:`ConfigError` as pytest's usage error."""
    try:
        yield
    except ConfigError as exc:
        raise pytest.UsageError(f"{where}{exc}") from None


def _ini(config: pytest.Config, name: str, convert: Callable[[str], T]) -> T | None:
    """An ini setting's value through ``convert``, or None when it is not set."""
    value = config.getini(name)
    if not value:
        return None
    return convert(str(value))


def from_config(config: pytest.Config) -> Settings:
    """Build and check the run's settings; every problem is a :class:`pytest.UsageError`."""
    option = config.option
    from_ini = not option.distro
    raw_distros: list[str] = option.distro or config.getini("distro")
    with _usage("distro (ini): " if from_ini else ""):
        distros = tuple(dict.fromkeys(parse_distro(value) for value in raw_distros))

    keep = option.keep_cluster or _ini(
        config,
        "distro_keep_cluster",
        lambda v: keep_policy(v, flag=parse.ini_flag("distro_keep_cluster")),
    )
    timeout = option.ready_timeout or _ini(
        config,
        "distro_ready_timeout",
        lambda v: timeout_seconds(v, flag=parse.ini_flag("distro_ready_timeout")),
    )

    name = option.provisioner or (
        provisioners.FOR_KUBECONFIG if option.k8sdistro_kubeconfig else provisioners.DEFAULT
    )
    # A run that tests no distribution never loads a provisioner (the Docker client
    # behind the default one costs every pytest run in which the plugin is installed).
    chosen = bool(distros) or option.provisioner is not None or option.k8sdistro_kubeconfig
    target: str | None = None
    # The base class checks nothing and can do nothing: enough for a run without one.
    cls: type[Provisioner] = Unchosen
    if chosen:
        with _usage():
            name, target, cls = _provisioner(config, name)
    with _usage("--distro-expect: "):
        expect_overrides = (
            overrides.load(Path(option.distro_expect)) if option.distro_expect else {}
        )
    settings = Settings(
        distros=distros,
        image=option.distro_image,
        image_archive=Path(option.distro_image_archive) if option.distro_image_archive else None,
        kubeconfig=Path(option.k8sdistro_kubeconfig) if option.k8sdistro_kubeconfig else None,
        keep=keep or KeepPolicy.NEVER,
        reuse=option.reuse_cluster,
        strict_features=option.strict_features,
        nodes=option.nodes,
        ip_family=option.ip_family,
        datastore=option.datastore,
        datastore_image=option.datastore_image,
        node_memory=option.node_memory,
        node_cpus=option.node_cpus,
        ready_timeout=timeout,
        provisioner=name,
        capabilities=cls.CAPABILITIES if chosen else Capabilities(),
        expect_overrides=expect_overrides,
        provisioner_target=target,
        allow_host_install=option.allow_host_install,
        install_artifacts=tuple(option.install_artifact or ()),
        vm_accel=option.vm_accel,
        vm_image=option.vm_image,
        vm_kernel=option.vm_kernel,
        vm_initrd=option.vm_initrd,
        vm_cmdline=option.vm_cmdline,
    )
    suite_timeouts = Timeouts(
        wait=option.suite_timeout
        or suite_timeout(
            str(config.getini("distro_suite_timeout")),
            flag=parse.ini_flag("distro_suite_timeout"),
        ),
        hold=option.suite_hold
        if option.suite_hold is not None
        else suite_hold(
            str(config.getini("distro_suite_hold")),
            flag=parse.ini_flag("distro_suite_hold"),
        ),
    )
    suite_image = option.suite_image or parse.image_ref(
        str(config.getini("distro_suite_image")), flag=parse.ini_flag("distro_suite_image")
    )
    settings = replace(settings, suite_timeouts=suite_timeouts, suite_image=suite_image)
    with _usage("--distro-addons: "):
        settings = replace(settings, distro_addons=_addons(option.distro_addons, distros))
    with _usage():
        _check(settings, cls, explicit_keep=option.keep_cluster)
        upgrade = plan(
            option.upgrade_to,
            image=option.upgrade_image,
            specs=distros,
            provisioner=cls,
            reuse=settings.reuse,
            probe_interval=float(option.probe_interval),
            max_downtime=option.max_downtime,
        )
    return replace(settings, upgrade=upgrade)


def _provisioner(config: pytest.Config, value: str) -> tuple[str, str | None, type[Provisioner]]:
    """``NAME`` or ``NAME://ADDRESS`` -> (name, the address, the class)."""
    if "://" in value:
        name, address = urlsplit(value).scheme, value
    else:
        name, address = value, None
    known = provisioners.registry(config)
    if name not in known:
        raise ConfigError(
            f"--distro-provisioner={value!r} is not a known provisioner; known: "
            + ", ".join(
                f"{n}://ADDRESS" if provisioners.load(known[n]).CAPABILITIES.takes_address else n
                for n in sorted(known)
            )
        )
    cls = provisioners.load(known[name])
    if cls.CAPABILITIES.takes_address:
        if address is None:
            raise ConfigError(
                f"--distro-provisioner={name} needs the machine: "
                f"--distro-provisioner={name}://ADDRESS (e.g. {name}://user@host[:port])"
            )
        cls.parse_address(address)
    elif address is not None:
        raise ConfigError(
            f"--distro-provisioner={value!r}: the {name} provisioner takes no address; name it "
            f"plainly (--distro-provisioner={name})"
        )
    return name, address, cls


def _addons(value: str | None, distros: tuple[DistroSpec, ...]) -> tuple[str, ...] | None:
    if value is None:
        return None
    with_addons = [spec for spec in distros if spec.profile.addons is not None]
    if not with_addons:
        having = [n for n in known_distros() if get_profile(n).addons is not None]
        raise ConfigError(
            f"{value!r} names addons, and no --distro of this run has any; addons are "
            f"for {', '.join(having) or 'no distribution'}: add --distro="
            f"{having[0] if len(having) == 1 else 'NAME'} or drop it"
        )
    addons = with_addons[0].profile.addons
    assert addons is not None  # chosen for having them
    try:
        parsed = addons.parse(value)
    except ConfigError as exc:
        raise ConfigError(
            f"{value!r}: {exc}; accepted: {', '.join(addons.known)}"
            + "".join(f" ({name} as {example})" for name, example in addons.need_argument.items())
        ) from None
    for spec in with_addons:
        gone = addons.missing_at(parsed, spec.version)
        if gone:
            raise ConfigError(f"{value!r} for {spec}: {'; '.join(gone)}; drop it")
    return parsed


def _check(settings: Settings, cls: type[Provisioner], *, explicit_keep: KeepPolicy | None) -> None:
    _check_image(settings)
    _check_kubeconfig(settings)
    _check_reuse(settings, explicit_keep=explicit_keep)
    _check_distros(settings)
    _check_shape(settings)
    _check_datastore(settings)
    _check_artifacts(settings)
    _check_vm(settings)
    if settings.allow_host_install and not settings.can.installs_here:
        raise ConfigError(
            f"--distro-allow-host-install lets --distro-provisioner=host change this machine; with "
            f"--distro-provisioner={settings.provisioner} nothing is installed here, so drop it "
            "(or use --distro-provisioner=host)"
        )
    cls.check_config(settings, settings.distros)


def _check_image(settings: Settings) -> None:
    if settings.image is not None and len(settings.distros) != 1:
        raise ConfigError(
            f"--distro-image={settings.image!r} needs exactly one --distro to say which "
            f"distribution's contract the image follows (got {len(settings.distros)}); "
            "e.g. --distro=NAME --distro-image=REF"
        )
    archive = settings.image_archive
    if archive is not None and not archive.is_file():
        raise ConfigError(
            f"--distro-image-archive={str(archive)!r}: no such file; give the path of a "
            "tarball made by 'docker save'"
        )


def _check_kubeconfig(settings: Settings) -> None:
    if settings.kubeconfig is None:
        return
    path = str(settings.kubeconfig)
    if len(settings.distros) != 1:
        raise ConfigError(
            f"--distro-kubeconfig={path!r} needs exactly one --distro naming the distribution that "
            f"runs there, so its expectations apply (got {len(settings.distros)}); "
            "e.g. --distro-kubeconfig=PATH --distro=NAME"
        )
    conflicts = [
        flag
        for flag, given in (
            ("--distro-image", settings.image is not None),
            ("--distro-image-archive", settings.image_archive is not None),
            ("--distro-reuse-cluster", settings.reuse),
            ("--distro-nodes", settings.nodes != 1),
            ("--distro-ip-family", settings.ip_family != "ipv4"),
            ("--distro-datastore", settings.datastore is not None),
            ("--distro-node-memory", settings.node_memory is not None),
            ("--distro-node-cpus", settings.node_cpus is not None),
        )
        if given
    ]
    if settings.can.starts_clusters:
        conflicts.append("--distro-provisioner")
    if conflicts:
        raise ConfigError(
            "--distro-kubeconfig tests a cluster that is already running, so "
            f"{', '.join(conflicts)} cannot apply; drop them, or drop --distro-kubeconfig to let "
            "the plugin start a cluster"
        )
    try:
        kubeconfig.load(settings.kubeconfig)
    except ConfigError as exc:
        raise ConfigError(f"--distro-kubeconfig: {exc}") from None


def _check_reuse(settings: Settings, *, explicit_keep: KeepPolicy | None) -> None:
    if settings.reuse and explicit_keep is not None and explicit_keep is not KeepPolicy.ALWAYS:
        raise ConfigError(
            f"--distro-reuse-cluster keeps the cluster for the next run, which "
            f"--distro-keep-cluster={explicit_keep.value} contradicts; drop one of them"
        )


def _check_distros(settings: Settings) -> None:
    """Every distribution can be brought up by the chosen provisioner."""
    capabilities = settings.can
    for spec in settings.distros:
        profile = spec.profile
        if capabilities.runs(profile):
            continue
        if profile.container is None and capabilities.runs_images:
            why = profile.no_container_reason or "it has no container image"
            raise ConfigError(
                f"--distro={spec}: {spec.name} cannot run with --distro-provisioner="
                f"{settings.provisioner}: {why}. Run it on a machine instead: "
                "--distro-provisioner=host --distro-allow-host-install installs it on this machine "
                "(a throwaway one), --distro-provisioner=ssh://user@host[:port] on a machine "
                "reached by SSH, --distro-provisioner=multipass in a throwaway VM; or test one you "
                f"installed with --distro={spec.name} --distro-kubeconfig=PATH"
            )
        raise ConfigError(
            f"--distro={spec}: {spec.name} has no install plan for a machine, so "
            f"--distro-provisioner={settings.provisioner} cannot bring it up; use a provisioner "
            "that runs its image (--distro-provisioner=docker)"
        )


def _check_shape(settings: Settings) -> None:
    """Options that shape nodes, against what the provisioner can do."""
    capabilities = settings.can
    if not capabilities.starts_clusters:
        return  # --distro-kubeconfig's own check names every conflict
    where = f"--distro-provisioner={settings.provisioner}"
    refused = [
        flag
        for flag, given, allowed in (
            ("--distro-image", settings.image is not None, capabilities.runs_images),
            (
                "--distro-image-archive",
                settings.image_archive is not None,
                capabilities.runs_images,
            ),
            (
                f"--distro-nodes={settings.nodes}",
                settings.nodes != 1,
                settings.nodes <= capabilities.max_nodes,
            ),
            ("--distro-node-memory", settings.node_memory is not None, capabilities.limits_memory),
            ("--distro-node-cpus", settings.node_cpus is not None, capabilities.limits_cpus),
        )
        if given and not allowed
    ]
    if refused:
        nodes = (
            "one node" if capabilities.max_nodes == 1 else f"up to {capabilities.max_nodes} nodes"
        )
        raise ConfigError(
            f"{where} brings up {nodes}"
            + (" on a machine" if capabilities.installs_on_machines else "")
            + f", so {', '.join(refused)} cannot apply; drop them, or use a provisioner that "
            "offers them (images, node counts and limits are for --distro-provisioner=docker)"
        )
    if settings.ip_family not in capabilities.ip_families:
        raise ConfigError(
            f"--distro-ip-family={settings.ip_family}: {where} starts only "
            f"{', '.join(capabilities.ip_families)} clusters, on a network it does not "
            "control; start the cluster dual-stack there yourself and test it with "
            "--distro-kubeconfig, or use --distro-provisioner=docker"
        )


def _check_datastore(settings: Settings) -> None:
    if settings.datastore is None:
        if settings.datastore_image is not None:
            raise ConfigError(
                f"--distro-datastore-image={settings.datastore_image!r} needs "
                "--distro-datastore=postgres or --distro-datastore=mysql to say which database "
                "it is"
            )
        return
    refusing = sorted(
        spec.name
        for spec in settings.distros
        if spec.profile.datastores is None
        or settings.datastore not in spec.profile.datastores.kinds
    )
    if refusing:
        taking = [n for n in known_distros() if (get_profile(n).datastores or None) is not None]
        raise ConfigError(
            f"--distro-datastore={settings.datastore}: {', '.join(refusing)} takes no external "
            f"{settings.datastore} datastore (those that do: {', '.join(taking) or 'none'}); "
            "run it without --distro-datastore"
        )
    if settings.datastore not in settings.can.datastores:
        raise ConfigError(
            f"--distro-datastore={settings.datastore} starts the database beside the node, which "
            f"--distro-provisioner={settings.provisioner} cannot; use --distro-provisioner=docker"
        )


def _check_artifacts(settings: Settings) -> None:
    if not settings.install_artifacts:
        return
    if not settings.can.installs_artifacts:
        raise ConfigError(
            f"--distro-install-artifact is for provisioners that install on a machine (host, ssh, "
            f"multipass), not --distro-provisioner={settings.provisioner}; with images, load them "
            "with --distro-image-archive"
        )
    if len(settings.distros) != 1:
        raise ConfigError(
            "--distro-install-artifact needs exactly one --distro, the one the files belong to "
            f"(got {len(settings.distros)})"
        )
    spec = settings.distros[0]
    accepted = spec.profile.machine.artifacts if spec.profile.machine is not None else {}
    for artifact in settings.install_artifacts:
        if artifact.kind not in accepted:
            raise ConfigError(
                f"--distro-install-artifact={artifact.kind}={artifact.path}: {spec.name} "
                f"installs from {', '.join(accepted) or 'no local'} files, not {artifact.kind}"
            )


def _check_vm(settings: Settings) -> None:
    if settings.can.boots_vms:
        return
    given = [
        flag
        for flag, value in (
            ("--distro-vm-accel", settings.vm_accel != "auto"),
            ("--distro-vm-image", settings.vm_image is not None),
            ("--distro-vm-kernel", settings.vm_kernel is not None),
            ("--distro-vm-initrd", settings.vm_initrd is not None),
            ("--distro-vm-cmdline", settings.vm_cmdline is not None),
        )
        if value
    ]
    if given:
        raise ConfigError(
            f"{', '.join(given)} shape the VMs of a provisioner that boots them; "
            f"--distro-provisioner={settings.provisioner} boots none, so drop them or use "
            "--distro-provisioner=qemu"
        )
