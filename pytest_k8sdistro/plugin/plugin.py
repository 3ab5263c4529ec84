"""The pytest plugin: options, markers, parametrization and the fixtures' wiring."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_k8sdistro.config import options
from pytest_k8sdistro.config.settings import Settings, from_config, settings_key
from pytest_k8sdistro.distros import registry as distros
from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import CheckFailed, ClusterUnavailable
from pytest_k8sdistro.plugin import hookspecs as hooks
from pytest_k8sdistro.plugin import markers, outcome
from pytest_k8sdistro.plugin import report as report_plugin
from pytest_k8sdistro.plugin.fixtures import (  # noqa: F401 - fixtures are found by name
    cluster,
    distro,
    k8sdistro_footprint,
    k8sdistro_other_cluster,
    k8sdistro_provisioner,
    k8sdistro_run,
    k8sdistro_run_dir,
    k8sdistro_spec,
    k8sdistro_upgrade_plan,
    kube,
    namespace,
    node,
    outcome_key,
    session_key,
    suite_image,
    suite_timeouts,
    work,
)
from pytest_k8sdistro.plugin.session import K8sDistroSession, XdistHooks, spec_of


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_configure(config: pytest.Config) -> None:
    added: dict[str, Any] = {}
    config.hook.pytest_k8sdistro_add_distros(registry=added)
    distros.set_added(added)
    markers.register(config)
    settings = from_config(config)
    config.stash[settings_key] = settings
    state = K8sDistroSession(config, settings)
    config.stash[session_key] = state
    config.pluginmanager.register(state, "k8sdistro-session")
    report_plugin.register(config, state)
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(outcome.RunOutcome(), "k8sdistro-outcome")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(state), "k8sdistro-xdist")


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(settings_key, None)
    if settings is None or not settings.distros:
        return []
    return [f"k8sdistro: {', '.join(map(str, settings.distros))} via {settings.provisioner}"]


def _ids(specs: tuple[DistroSpec, ...]) -> list[str]:
    short = [spec.id for spec in specs]
    # Two versions of one minor line would share "NAME-v1.33"; show them in full.
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


def pytest_runtest_setup(item: pytest.Item) -> None:
    spec = spec_of(item)
    if spec is None:
        return
    settings: Settings = item.config.stash[settings_key]
    if "k8sdistro_upgrade_plan" in getattr(item, "fixturenames", ()) and settings.upgrade is None:
        # Before any fixture: without a plan, no cluster is started for this test.
        pytest.skip(
            "no upgrade asked for: pass --distro-upgrade-to=VERSION (and --distro=NAME:FROM)"
        )
    allowed = markers.allowed_distros(item)
    if allowed is not None and spec.name not in allowed:
        pytest.skip(f"runs only on {', '.join(sorted(allowed))}; this run tests {spec}")
    missing = markers.unclaimed_features(item, settings.expectations(spec).features())
    if missing:
        message = f"{spec} does not claim feature(s): {', '.join(missing)}"
        if settings.strict_features:
            pytest.fail(message + " (--distro-strict-features)", pytrace=False)
        pytest.skip(message)


def _as_failure() -> Generator[None, object, object]:
    """A failed check from below (:class:`CheckFailed`) as a plain test failure: its
    message says expected, found and evidence; the plugin's frames would hide it."""
    try:
        return (yield)
    except CheckFailed as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _as_failure())


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[object], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    return (yield from _as_failure())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, ClusterUnavailable):
        # The run could not test the distribution: an error that says so in one line
        # (the cause comes once, in the summary), marked for the report and the exit
        # status, never a verdict about the distribution.
        unavailable = call.excinfo.value
        report.longrepr = str(unavailable)
        report.user_properties.append((outcome.NOT_TESTED, [unavailable.spec, unavailable.cause]))
    # Kept so that the namespace fixture's teardown knows how the test went.
    item.stash.setdefault(outcome_key, {})[report.when] = report
    return report
