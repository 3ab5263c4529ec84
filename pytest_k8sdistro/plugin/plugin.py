"""The pytest plugin: options, markers, parametrization and the fixtures' wiring."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from pytest_k8sdistro.config import options
from pytest_k8sdistro.config.settings import Settings, from_config, settings_key
from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.plugin import hookspecs as hooks
from pytest_k8sdistro.plugin import markers
from pytest_k8sdistro.plugin.fixtures import (  # noqa: F401 - fixtures are found by name
    cluster,
    distro,
    k8sdistro_spec,
    kube,
    namespace,
    node,
    outcome_key,
    session_key,
)
from pytest_k8sdistro.plugin.session import K8sDistroSession, XdistHooks
from pytest_k8sdistro.report import plugin as report_plugin


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_configure(config: pytest.Config) -> None:
    markers.register(config)
    settings = from_config(config)
    config.stash[settings_key] = settings
    state = K8sDistroSession(config, settings)
    config.stash[session_key] = state
    config.pluginmanager.register(state, "k8sdistro-session")
    report_plugin.register(config, state)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(state), "k8sdistro-xdist")


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(settings_key, None)
    if settings is None or not settings.distros:
        return []
    return [f"k8sdistro: {', '.join(map(str, settings.distros))} via {settings.provisioner}"]


def _ids(specs: tuple[DistroSpec, ...]) -> list[str]:
    short = [spec.id for spec in specs]
    # Two versions of one minor line would share "k3s-v1.33"; show them in full.
    return [
        sid if short.count(sid) == 1 else f"{spec.name}-{spec.version}"
        for sid, spec in zip(short, specs, strict=True)
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "k8sdistro_spec" not in metafunc.fixturenames:
        return
    settings: Settings = metafunc.config.stash[settings_key]
    specs = settings.distros
    if specs:
        metafunc.parametrize(
            "k8sdistro_spec", list(specs), ids=_ids(specs), indirect=True, scope="session"
        )
    else:
        metafunc.parametrize(
            "k8sdistro_spec", [None], ids=["no-distro"], indirect=True, scope="session"
        )


def _spec_of(item: pytest.Item) -> DistroSpec | None:
    callspec = getattr(item, "callspec", None)
    spec = callspec.params.get("k8sdistro_spec") if callspec else None
    return spec if isinstance(spec, DistroSpec) else None


def pytest_runtest_setup(item: pytest.Item) -> None:
    spec = _spec_of(item)
    if spec is None:
        return
    allowed = markers.allowed_distros(item)
    if allowed is not None and spec.name not in allowed:
        pytest.skip(f"runs only on {', '.join(sorted(allowed))}; this run tests {spec}")
    settings: Settings = item.config.stash[settings_key]
    missing = markers.unclaimed_features(item, settings.expectations(spec).features())
    if missing:
        message = f"{spec} does not claim feature(s): {', '.join(missing)}"
        if settings.strict_features:
            pytest.fail(message + " (--strict-features)", pytrace=False)
        pytest.skip(message)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Kept so that the namespace fixture's teardown knows how the test went.
    report = yield
    item.stash.setdefault(outcome_key, {})[report.when] = report
    return report
