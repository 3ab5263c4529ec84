"""The comparison report's collector: what each test of a distribution found.

Registered only when a report is asked for (``--distro-report``); its modules are
not loaded otherwise.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Generator
from pathlib import PurePath
from typing import Any

import pytest

from pytest_k8sdistro.config.footprint import FootprintSettings
from pytest_k8sdistro.distros.profile import Expectations
from pytest_k8sdistro.plugin import outcome
from pytest_k8sdistro.plugin.manager import cluster_key
from pytest_k8sdistro.plugin.session import K8sDistroSession, spec_of
from pytest_k8sdistro.report import model, timeline
from pytest_k8sdistro.report.write import append_step_summary, write


def node_id_of(report: pytest.TestReport) -> str:
    """The report's node id, always with the test's file: a module named with ``--pyargs``
    (``pytest_k8sdistro.suites.test_dns``) outside the rootdir gets a node id without it
    (``::test_x[NAME]``), and its suite is named by that file."""
    module, sep, rest = report.nodeid.partition("::")
    if module or not sep:
        return report.nodeid
    return f"{PurePath(report.location[0]).as_posix()}::{rest}"


def claims(expectations: Expectations) -> dict[str, str]:
    """What the profile claims, in words, per suite module (the blog's feature table)."""
    e = expectations
    return {
        "dns": e.dns or "none",
        "networking": e.cni + (" + network policy" if e.network_policy else ""),
        "runtime": e.runtime,
        "storage": e.storage_class or "none",
        "load_balancer": e.load_balancer or "none",
        "ingress": ", ".join(e.ingress_classes) or "none",
        "ipv6": e.ipv6,
        "datastore": e.datastore,
        "multinode": "yes" if e.multi_node else "no",
        # StatefulSet volumes come from the default StorageClass, if there is one.
        "workloads": "volumes: " + (e.storage_class or "none"),
        # A core kubelet feature: every distribution claims it.
        "reaching_in": "exec, port-forward",
        "access_control": "RBAC" if e.rbac else "no RBAC (every request admitted)",
        "metrics": "metrics-server" if e.metrics_server else "none",
        "upgrade": "hitless" if e.hitless_upgrade else "with downtime",
    }


def _source() -> str:
    if os.environ.get("GITHUB_ACTIONS") == "true":
        job = os.environ.get("K8SDISTRO_REPORT_SOURCE") or os.environ.get("GITHUB_JOB", "job")
        return f"{job} (run {os.environ.get('GITHUB_RUN_ID', '?')})"
    return os.environ.get("K8SDISTRO_REPORT_SOURCE") or socket.gethostname()


def _message(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    if report.failed:
        text = report.longreprtext.strip()
        return text[-600:]
    return ""


class ReportCollector:
    """Registered in every process; only the controller collects and writes."""

    def __init__(self, state: K8sDistroSession, settings: FootprintSettings) -> None:
        self.state = state
        self.settings = settings
        self.report = model.new_report(_source())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        spec = spec_of(item)
        if spec is not None:
            report.user_properties.append(
                (model.DISTRO_PROPERTY, model.entry_key(spec.name, spec.version))
            )
        return report

    def _entry(self, key: str) -> model.Entry:
        entries: dict[str, model.Entry] = self.report["distros"]
        if key not in entries:
            name, _, version = key.partition(" ")
            entries[key] = model.new_entry(name, version)
        return entries[key]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.state.is_controller or self.settings.report is None:
            return
        properties = dict(report.user_properties)
        key = properties.pop(model.DISTRO_PROPERTY, None)
        if not isinstance(key, str):
            return
        decisive = (
            report.when == "call"
            or (report.when == "setup" and not report.passed)
            or (report.when == "teardown" and report.failed)
        )
        if not decisive:
            return
        entry = self._entry(key)
        unavailable = outcome.not_tested(report)
        properties.pop(outcome.NOT_TESTED, None)
        if unavailable is not None:
            # Not a verdict: the report says "not measured" with the cause, never ✗.
            entry["not_tested"] = unavailable[1]
            model.add_test(entry, node_id_of(report), model.NOT_TESTED, unavailable[1], {})
            return
        rest = {}
        for name, value in properties.items():
            if not model.apply_property(entry, name, value):
                rest[name] = value
        # The upgrade suite's result file is on this machine (workers share the run
        # directory): embed its timeline, bounded, so merged reports can draw it.
        path = rest.get(model.UPGRADE_FILE_PROPERTY)
        found = timeline.load(path) if isinstance(path, str) else None
        model.add_test(entry, node_id_of(report), report.outcome, _message(report), rest, found)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # tryfirst: before the session's teardown of clusters (trylast).
        if not self.state.is_controller or self.settings.report is None:
            return
        self.complete()
        written = write(self.report, self.settings.report)
        append_step_summary(self.report)
        reporter = session.config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"k8sdistro: report written to {', '.join(map(str, written))}")

    def complete(self) -> None:
        """Add what every distribution of the run has, measured or not."""
        settings = self.state.settings
        clusters = self._clusters()
        for spec in settings.distros:
            entry = self._entry(model.entry_key(spec.name, spec.version))
            expectations = settings.expectations(spec)
            entry["requirements"] = {
                "memory_min_mib": expectations.memory_min_mib,
                "memory_idle_max_mib": expectations.memory_idle_max_mib,
                "disk_max_mb": expectations.disk_max_mb,
            }
            entry["claims"] = claims(expectations)
            if settings.node_memory is not None:
                entry["node_memory_limit_mib"] = round(settings.node_memory / 2**20, 1)
            cluster = clusters.get(cluster_key(spec, settings))
            if cluster is None:
                continue
            entry["image"] = entry["image"] or cluster.get("image")
            entry["provisioner"] = entry["provisioner"] or cluster.get("provisioner")
            if not entry["time_to_ready"] and cluster.get("timings"):
                entry["time_to_ready"] = dict(cluster["timings"])
                entry["time_to_ready_from"] = "the start of provisioning"

    def _clusters(self) -> dict[str, dict[str, Any]]:
        """The clusters the manager recorded (it shares them with xdist workers)."""
        try:
            path = self.state.run_dir() / "k8sdistro-state.json"
            state = json.loads(path.read_text())
        except (OSError, ValueError, AttributeError):
            return {}
        return {
            key: entry["cluster"]
            for key, entry in state.get("clusters", {}).items()
            if "cluster" in entry
        }
