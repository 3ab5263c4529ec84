"""Collects what a run found, in the process that controls it, and writes the report.

Every test report carries the distribution it ran on as a user property (added in
the process that ran the test, so it travels with pytest-xdist's reports); the
footprint suite's figures are ``footprint.*`` properties (which also land in JUnit
XML). The controller gathers them (:mod:`.collector`), adds the profile's figures
and the readiness timings the cluster manager recorded, and writes the report at
the end of the session, before clusters are torn down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_k8sdistro.config.footprint import FootprintSettings, from_config

if TYPE_CHECKING:
    from pytest_k8sdistro.plugin.session import K8sDistroSession

footprint_settings_key = pytest.StashKey[FootprintSettings]()


def register(config: pytest.Config, state: K8sDistroSession) -> None:
    """Called by the plugin's ``pytest_configure``."""
    settings = from_config(config)
    config.stash[footprint_settings_key] = settings
    if settings.report is None:
        return  # no report asked for: its collector and writers are never loaded
    from pytest_k8sdistro.plugin.collector import ReportCollector

    config.pluginmanager.register(ReportCollector(state, settings), "k8sdistro-report")


def footprint_settings(config: pytest.Config) -> FootprintSettings:
    return config.stash[footprint_settings_key]
