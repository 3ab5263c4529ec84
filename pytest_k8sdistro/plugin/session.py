"""The plugin's per-process state: settings, run identity and the cluster manager."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.model.cluster import RunIdentity
from pytest_k8sdistro.plugin.manager import ClusterManager
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners import registry as provisioners

WORKER_INPUT_KEY = "k8sdistro_run"


class K8sDistroSession:
    """Registered as a plugin in every process of a run."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        self.is_controller = workerinput is None
        self.run = (
            RunIdentity.new()
            if workerinput is None
            else RunIdentity.from_dict(workerinput[WORKER_INPUT_KEY])
        )
        self.failed = False
        self._manager: ClusterManager | None = None
        self._previous_sigterm: Any = None

    # -- wiring --------------------------------------------------------------

    def progress(self) -> Progress:
        capman = self.config.pluginmanager.getplugin("capturemanager")
        return Progress(capman.global_and_fixture_disabled if capman else None)

    def run_dir(self) -> Path:
        # The xdist recipe for session-wide resources: the controller's basetemp
        # is the parent of every worker's basetemp. pytest-xdist itself reads
        # the same private factory to hand out worker basetemps.
        basetemp: Path = self.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
        return basetemp if self.is_controller else basetemp.parent

    def kept_dir(self) -> Path:
        cache = getattr(self.config, "cache", None)
        if cache is not None:
            return Path(cache.mkdir("k8sdistro-kept"))
        return self.run_dir().parent / "k8sdistro-kept"

    @property
    def manager(self) -> ClusterManager:
        if self._manager is None:
            cls = provisioners.load(provisioners.registry(self.config)[self.settings.provisioner])
            run_dir = self.run_dir()
            progress = self.progress()
            provisioner = cls(self.settings, self.run, run_dir / "k8sdistro", progress)
            (run_dir / "k8sdistro").mkdir(parents=True, exist_ok=True)
            self._manager = ClusterManager(
                self.settings, provisioner, run_dir, self.kept_dir(), progress
            )
        return self._manager

    # -- hooks ----------------------------------------------------------------

    def pytest_configure(self, config: pytest.Config) -> None:
        if self.is_controller and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            # A cancelled CI job sends SIGTERM; turning it into KeyboardInterrupt
            # lets pytest finish the session, and so tear clusters down.
            self._previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed = True

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.is_controller or (self._manager is None and not self._state_exists()):
            return
        failed = self.failed or session.testsfailed > 0
        self.manager.release_all(failed=failed)

    def _state_exists(self) -> bool:
        # Without xdist, the manager exists once a cluster was used; with xdist
        # the controller only learns from the state file the workers wrote.
        try:
            return (self.run_dir() / "k8sdistro-state.json").exists()
        except Exception:
            return False


class XdistHooks:
    """Hooks that exist only when pytest-xdist is active."""

    def __init__(self, state: K8sDistroSession) -> None:
        self.state = state

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKER_INPUT_KEY] = self.state.run.to_dict()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
