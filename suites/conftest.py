"""Options and fixtures shared by the suites.

``--suite-timeout`` bounds every wait, ``--suite-hold`` how long a state that must
not change is watched, ``--suite-image`` names the busybox image the workloads run
(for mirrors and air-gapped registries).
"""

from __future__ import annotations

import pytest
from suite_support import DEFAULT_IMAGE, Timeouts, Workloads

from pytest_k8sdistro import Kube


def _seconds(option: str, minimum: float) -> object:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise pytest.UsageError(
                f"{option}={text!r}: expected a number of seconds, e.g. {option}=120"
            ) from None
        if not value >= minimum:  # also rejects nan
            raise pytest.UsageError(f"{option}={text!r}: must be at least {minimum:g} seconds")
        return value

    return parse


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("k8sdistro-suites", "k8sdistro suites")
    group.addoption(
        "--suite-timeout",
        type=_seconds("--suite-timeout", 1),
        default=None,
        metavar="SECONDS",
        help="longest wait of any suite check (pods Ready, PVCs Bound, addresses); default 120",
    )
    group.addoption(
        "--suite-hold",
        type=_seconds("--suite-hold", 0),
        default=None,
        metavar="SECONDS",
        help="how long a state that must not change is watched (a PVC waiting for its "
        "first consumer, a LoadBalancer without a provider); default 8",
    )
    group.addoption(
        "--suite-image",
        default=None,
        metavar="REF",
        help=f"busybox image the suites' workloads run; default {DEFAULT_IMAGE}",
    )
    parser.addini("k8sdistro_suite_timeout", "default of --suite-timeout", default="120")
    parser.addini("k8sdistro_suite_hold", "default of --suite-hold", default="8")
    parser.addini("k8sdistro_suite_image", "default of --suite-image", default=DEFAULT_IMAGE)


def _setting(config: pytest.Config, option: str, ini: str, minimum: float) -> float:
    value = config.getoption(option)
    if value is None:
        value = _seconds(f"{ini} (ini)", minimum)(str(config.getini(ini)))  # type: ignore[operator]
    return float(value)


def pytest_configure(config: pytest.Config) -> None:
    # Validate ini values up front: a bad one is a usage error before anything starts.
    _setting(config, "--suite-timeout", "k8sdistro_suite_timeout", 1)
    _setting(config, "--suite-hold", "k8sdistro_suite_hold", 0)


@pytest.fixture(scope="session")
def suite_timeouts(pytestconfig: pytest.Config) -> Timeouts:
    return Timeouts(
        wait=_setting(pytestconfig, "--suite-timeout", "k8sdistro_suite_timeout", 1),
        hold=_setting(pytestconfig, "--suite-hold", "k8sdistro_suite_hold", 0),
    )


@pytest.fixture(scope="session")
def suite_image(pytestconfig: pytest.Config) -> str:
    return str(
        pytestconfig.getoption("--suite-image") or pytestconfig.getini("k8sdistro_suite_image")
    )


@pytest.fixture
def work(kube: Kube, namespace: str, suite_image: str, suite_timeouts: Timeouts) -> Workloads:
    """Deploys fixtures/ manifests into this test's namespace."""
    return Workloads(kube, namespace, suite_image, suite_timeouts)
