"""One cluster per distribution for the whole run, shared by pytest-xdist workers.

The first process (or thread) that needs a distribution's cluster creates it while
holding that cluster's own file lock, and records it in a JSON state file in the
run's shared temporary directory; every other process attaches to the recorded
cluster. Each cluster has its own lock, so several distributions boot side by
side; the state file's lock is only held to read or write it. The process that
controls the run (the xdist controller, or pytest itself without xdist) tears
clusters down once, after the last worker is done, all of them at once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_k8sdistro import interrupt
from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import ClusterUnavailable, K8sDistroError
from pytest_k8sdistro.kube import kubeconfig
from pytest_k8sdistro.model.cluster import Cluster
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners.base import Provisioner

if TYPE_CHECKING:
    from filelock import FileLock

    from pytest_k8sdistro.kube.readiness import Wait

#: A pitfall of every distribution in a container, cited in timeouts beside the
#: profile's own.
NO_KMSG = "no /dev/kmsg (kubernetes-sigs/kind#662)"


def boot_hint(spec: DistroSpec) -> str:
    """What users hit when a node never gets ready: the profile's pitfalls and ours."""
    causes = (*spec.profile.readiness.pitfalls, NO_KMSG)
    return f"common causes: {', '.join(causes)}; raise --distro-ready-timeout on slow machines"


def cluster_key(spec: DistroSpec, settings: Settings) -> str:
    """A name for ``spec``'s cluster that is the same in every run with the same settings."""
    key = f"{spec.name}-{spec.version.replace('+', '-').replace('/', '-')}"
    extras = [settings.image or "", str(settings.nodes), str(settings.node_memory or "")]
    # Appended only when set, so the keys of plain clusters stay what earlier runs kept.
    if settings.ip_family != "ipv4":
        extras.append(settings.ip_family)
    if settings.datastore is not None:
        extras.append(f"{settings.datastore}={settings.datastore_image or ''}")
    if any(extras[:1]) or settings.nodes != 1 or settings.node_memory or len(extras) > 3:
        key += "-" + hashlib.sha256("|".join(extras).encode()).hexdigest()[:8]
    return key


class ClusterManager:
    def __init__(
        self,
        settings: Settings,
        provisioner: Provisioner,
        run_dir: Path,
        kept_dir: Path,
        progress: Progress,
        *,
        key_suffix: str = "",
    ) -> None:
        self.settings = settings
        #: Set for clusters beside the run's own (a second start): keeps their keys, and
        #: so their resources' names, apart from the run's cluster and from each other.
        self.key_suffix = key_suffix
        self.provisioner = provisioner
        self.progress = progress
        self.kept_dir = kept_dir
        self._state_path = run_dir / "k8sdistro-state.json"
        self._lock_path = run_dir / "k8sdistro-state.lock"
        self._diagnostics_dir = run_dir / "k8sdistro-diagnostics"

    # -- shared state -------------------------------------------------------

    @contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        from filelock import FileLock

        with FileLock(str(self._lock_path)):
            state: dict[str, Any] = {"clusters": {}, "swept": False}
            if self._state_path.exists():
                state = json.loads(self._state_path.read_text())
            try:
                yield state
            finally:
                # Written on errors too: a failed start must be seen by other
                # workers, so that they report it instead of retrying.
                self._state_path.write_text(json.dumps(state, indent=2))

    # -- acquiring ----------------------------------------------------------

    def key(self, spec: DistroSpec) -> str:
        key = cluster_key(spec, self.settings)
        return f"{key}-{self.key_suffix}" if self.key_suffix else key

    def _cluster_lock(self, key: str) -> FileLock:
        # Imported on first use: a run that acquires no cluster does not pay for it.
        from filelock import FileLock

        return FileLock(str(self._state_path.parent / f"k8sdistro-cluster-{key}.lock"))

    def acquire(self, spec: DistroSpec) -> Cluster:
        """The run's cluster for ``spec``, created on first use."""
        key = self.key(spec)
        # The cluster's own lock is held while it boots, so that other workers wait
        # for it instead of starting a second one, and other clusters boot meanwhile.
        with self._cluster_lock(key):
            with self._state() as state:
                entry = state["clusters"].get(key)
            sweep = entry is None and self.claim_sweep()
            if entry is not None:
                if "error" in entry:
                    # Told once, never tried again: not by another worker, not by
                    # another test of the same cluster.
                    raise ClusterUnavailable(str(spec), entry["error"])
                return Cluster.from_dict(entry["cluster"])
            try:
                if sweep:
                    self.provisioner.cleanup_leftovers()
                cluster = self._bring_up(spec, key)
            except Exception as exc:
                cause = (
                    str(exc) if isinstance(exc, K8sDistroError) else f"{type(exc).__name__}: {exc}"
                )
                with self._state() as state:
                    state["clusters"][key] = {"error": cause}
                raise ClusterUnavailable(str(spec), cause) from None
            with self._state() as state:
                state["clusters"][key] = {"cluster": cluster.to_dict()}
            return cluster

    def claim_sweep(self) -> bool:
        """Whether this caller is the one to remove dead runs' leftovers (once a run)."""
        with self._state() as state:
            mine = not state["swept"]
            state["swept"] = True
        return mine

    def sweep(self) -> None:
        """Remove dead runs' leftovers beside the boots: it only ever touches what a
        run whose process is gone made, never this run's clusters."""
        try:
            self.provisioner.cleanup_leftovers()
        except Exception as exc:  # not this run's clusters: say it, test on
            self.progress.say(f"could not remove the leftovers of earlier runs: {exc}")

    def failure(self, spec: DistroSpec) -> str | None:
        """Why ``spec``'s cluster could not be had in this run, or None."""
        if not self._state_path.exists():
            return None
        with self._state() as state:
            entry = state["clusters"].get(self.key(spec)) or {}
        error: str | None = entry.get("error")
        return error

    def _bring_up(self, spec: DistroSpec, key: str) -> Cluster:
        if self.settings.reuse:
            kept = self._load_kept(key)
            if kept is not None and self.provisioner.attach(kept):
                self.progress.say(f"{spec}: reusing the cluster kept by an earlier run ({key})")
                kept.created = False
                return kept
            if kept is not None:
                # Kept by us but no longer usable (stopped, engine restarted):
                # remove what is left rather than keep it forever.
                self.progress.say(
                    f"{spec}: the kept cluster {key} is no longer usable; replacing it"
                )
                self.provisioner.destroy(kept)
                self.forget_kept(key)
        if self.provisioner.CAPABILITIES.starts_clusters:
            self.progress.say(f"{spec}: starting with the {self.provisioner.NAME} provisioner")
        else:
            self.progress.say(f"{spec}: checking the running cluster it is to test")
        started_at, started = time.time(), time.monotonic()
        cluster = self.provisioner.create(spec, key)
        created = time.monotonic() - started
        # Timings count from the start of provisioning, as Cluster.timings says; the
        # wall-clock start lets reports count from a node's own start (footprint).
        cluster.details.setdefault("provisioning_started_at", started_at)
        cluster.timings["created"] = round(created, 3)
        try:
            stages = self._wait_ready(spec, cluster)
            cluster.timings.update({name: round(created + s, 3) for name, s in stages.items()})
        except interrupt.Interrupted:
            # Ctrl-C or SIGTERM: nothing failed, and a kept cluster would be recorded
            # nowhere, so it goes.
            if cluster.created:
                self.provisioner.destroy(cluster)
            raise
        except Exception:
            self._collect_diagnostics(cluster)
            if cluster.created and not self.settings.keep.keeps(failed=True):
                self.provisioner.destroy(cluster)
            raise
        self.progress.say(f"{spec}: ready ({cluster.api_server})")
        return cluster

    def waits(self, spec: DistroSpec, cluster: Cluster) -> list[Wait]:
        # Imported here: the API client behind them costs a run that starts no cluster.
        from pytest_k8sdistro.kube.readiness import (
            ApiReady,
            DefaultServiceAccount,
            DeploymentAvailable,
            LogLine,
            NodesReady,
        )

        readiness = spec.profile.readiness
        waits: list[Wait] = []
        if readiness.log_line and cluster.created:
            waits.append(LogLine(readiness.log_line))
        waits += [ApiReady(), NodesReady(self.settings.nodes)]
        for name in readiness.deployments:
            namespace, _, deployment = name.partition("/")
            waits.append(DeploymentAvailable(namespace, deployment))
        waits.append(DefaultServiceAccount())
        return waits

    def _wait_ready(self, spec: DistroSpec, cluster: Cluster) -> dict[str, float]:
        from pytest_k8sdistro.kube.readiness import Probe, wait_until_ready

        probe = Probe(
            cluster.kubeconfig, read_logs=lambda tail: self.provisioner.logs(cluster, tail)
        )
        timeout = self.settings.ready_timeout_for(spec.profile)
        return wait_until_ready(
            self.waits(spec, cluster),
            probe,
            timeout=timeout,
            progress=self.progress,
            hint=boot_hint(spec),
        )

    def _collect_diagnostics(self, cluster: Cluster) -> None:
        """Write the provisioner's diagnostics under the run's basetemp and say where."""
        dest = self._diagnostics_dir / cluster.key
        try:
            dest.mkdir(parents=True, exist_ok=True)
            self.provisioner.diagnostics(cluster, dest)
        except Exception as exc:  # diagnostics must never hide the original failure
            self.progress.say(f"could not collect diagnostics for {cluster.key}: {exc}")
            return
        if any(dest.iterdir()):
            self.progress.say(f"{cluster.key}: diagnostics written to {dest}")

    # -- releasing ----------------------------------------------------------

    def release_all(self, *, failed: bool) -> None:
        """Tear down (or keep) every cluster the run created; called once, at the end.

        Clusters are released side by side: the run's end waits for the slowest
        teardown, not for the sum of them.
        """
        if not self._state_path.exists():
            return
        with self._state() as state:
            pending = {
                key: Cluster.from_dict(entry["cluster"])
                for key, entry in state["clusters"].items()
                if "cluster" in entry and not entry.get("released")
            }
        if not pending:
            return
        try:
            if len(pending) == 1:  # in this thread: its progress is said as it happens
                (only,) = pending.values()
                self._release(only, failed=failed)
                return
            with ThreadPoolExecutor(max_workers=len(pending)) as pool:
                outcomes = [
                    pool.submit(self._release, cluster, failed=failed)
                    for cluster in pending.values()
                ]
            self.progress.flush()
            for outcome in outcomes:
                outcome.result()  # a teardown's error is the run's, after every other ran
        finally:
            with self._state() as state:
                for key in pending:
                    state["clusters"][key]["released"] = True

    def _release(self, cluster: Cluster, *, failed: bool) -> None:
        if self.settings.reuse or (cluster.created and self.settings.keep.keeps(failed=failed)):
            self._keep(cluster)
        elif cluster.created:
            if failed:
                self._collect_diagnostics(cluster)
            self.progress.say(f"removing cluster {cluster.key}")
            self.provisioner.destroy(cluster)

    def _keep(self, cluster: Cluster) -> None:
        self.kept_dir.mkdir(parents=True, exist_ok=True)
        kept_kubeconfig = self.kept_dir / f"{cluster.key}.kubeconfig"
        if Path(cluster.kubeconfig) != kept_kubeconfig:
            kubeconfig.write_private(kubeconfig.load(Path(cluster.kubeconfig)), kept_kubeconfig)
            cluster.kubeconfig = str(kept_kubeconfig)
        if cluster.created:  # a reused cluster was marked when an earlier run kept it
            self.provisioner.keep(cluster)
        (self.kept_dir / f"{cluster.key}.json").write_text(json.dumps(cluster.to_dict(), indent=2))
        self.progress.say(
            f"kept cluster {cluster.key}: KUBECONFIG={kept_kubeconfig}; "
            "attach again with --distro-reuse-cluster"
        )

    def _load_kept(self, key: str) -> Cluster | None:
        path = self.kept_dir / f"{key}.json"
        if not path.exists():
            return None
        return Cluster.from_dict(json.loads(path.read_text()))

    def forget_kept(self, key: str) -> None:
        for suffix in (".json", ".kubeconfig"):
            (self.kept_dir / f"{key}{suffix}").unlink(missing_ok=True)
