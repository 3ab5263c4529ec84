"""The plugin's per-process state: settings, run identity and the cluster manager."""

from __future__ import annotations

import signal
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest

from pytest_k8sdistro import interrupt
from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.model.cluster import Cluster, RunIdentity
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners import registry as provisioners

if TYPE_CHECKING:
    from pytest_k8sdistro.plugin.manager import ClusterManager

WORKER_INPUT_KEY = "k8sdistro_run"
#: How often the main thread, waiting for a boot, writes what the boot said.
BOOT_POLL_S = 0.25


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
        self._boots: dict[str, Future[Any]] = {}
        self._boot_pool: ThreadPoolExecutor | None = None

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
            # Imported on first use: a run that tests no distribution never needs it.
            from pytest_k8sdistro.plugin.manager import ClusterManager

            cls = provisioners.load(provisioners.registry(self.config)[self.settings.provisioner])
            run_dir = self.run_dir()
            progress = self.progress()
            provisioner = cls(self.settings, self.run, run_dir / "k8sdistro", progress)
            (run_dir / "k8sdistro").mkdir(parents=True, exist_ok=True)
            self._manager = ClusterManager(
                self.settings, provisioner, run_dir, self.kept_dir(), progress
            )
        return self._manager

    # -- clusters -------------------------------------------------------------

    def start_boots(self, specs: list[DistroSpec]) -> None:
        """Bring up the clusters of ``specs`` now, side by side, in the background.

        The run's clusters are what it waits for longest; started here, they boot
        while xdist hands out tests and the first tests set up, and beside each other.
        """
        if not specs:
            return
        manager = self.manager
        self._boot_pool = ThreadPoolExecutor(
            max_workers=len(specs) + 1, thread_name_prefix="k8sdistro-boot"
        )
        if manager.claim_sweep():
            # Beside the boots rather than before them.
            self._boots["leftovers"] = self._boot_pool.submit(manager.sweep)
        for spec in specs:
            self._boots[str(spec)] = self._boot_pool.submit(manager.acquire, spec)

    def cluster(self, spec: DistroSpec) -> Cluster:
        """The run's cluster of ``spec`` (raises ClusterUnavailable when it cannot be had)."""
        self._wait_for_boot(self._boots.get(str(spec)))
        return self.manager.acquire(spec)

    def _wait_for_boot(self, boot: Future[Any] | None) -> None:
        if boot is None:
            return
        progress = self.manager.progress
        while True:
            try:
                boot.result(timeout=BOOT_POLL_S)
            except FutureTimeout:
                progress.flush()
                continue
            except Exception:
                pass  # recorded in the run's state: acquire() raises it, once
            except interrupt.Interrupted:
                pass  # the boot removed what it made; the run is ending
            break
        progress.flush()

    def _finish_boots(self) -> None:
        """Let boots still running end (a boot cannot be abandoned half-way: what it
        made would be left behind), so that teardown sees every cluster."""
        if self._boot_pool is None:
            return
        for boot in self._boots.values():
            self._wait_for_boot(boot)
        self._boot_pool.shutdown(wait=True)
        self._boot_pool = None

    # -- hooks ----------------------------------------------------------------

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # As soon as the collected tests show which clusters they need, and only
        # those: a run whose tests use no cluster starts none. Under xdist each
        # worker does this; the clusters' locks let one of them boot each cluster.
        if not _only_looking(self.config):
            self.start_boots(_needed(session.items))

    def pytest_runtest_logstart(self, nodeid: str, location: object) -> None:
        if self._manager is not None:
            self._manager.progress.flush()

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # Boots waiting in background threads stop now rather than when they are up.
        interrupt.interrupt()

    def pytest_configure(self, config: pytest.Config) -> None:
        interrupt.reset()
        if self.is_controller and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            # A cancelled CI job sends SIGTERM; turning it into KeyboardInterrupt
            # lets pytest finish the session, and so tear clusters down.
            self._previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        interrupt.reset()
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed = True

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._finish_boots()
        if not self.is_controller:
            return
        if self._manager is None and not self._state_exists():
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


def spec_of(item: pytest.Item) -> DistroSpec | None:
    """The distribution a collected test is parametrized with, if any."""
    callspec = getattr(item, "callspec", None)
    spec = callspec.params.get("k8sdistro_spec") if callspec else None
    return spec if isinstance(spec, DistroSpec) else None


def _needed(items: list[pytest.Item]) -> list[DistroSpec]:
    """The distributions whose cluster a collected test uses, in the order of --distro."""
    needed: list[DistroSpec] = []
    for item in items:
        if "cluster" not in getattr(item, "fixturenames", ()):
            continue  # the closure of its fixtures: kube, namespace, node... need it too
        spec = spec_of(item)
        if spec is not None and spec not in needed:
            needed.append(spec)
    return needed


def _only_looking(config: pytest.Config) -> bool:
    """Whether the run only lists or plans tests: nothing to boot for."""
    option = config.option
    return any(
        getattr(option, name, False)
        for name in ("collectonly", "setupplan", "showfixtures", "show_fixtures_per_test")
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    interrupt.interrupt()
    raise KeyboardInterrupt(f"signal {signum}")
