"""The kubelet: runs pods bound to this node as real processes and reports status.

Per pod: network (podnet), volumes, init containers in order, then containers with
restartPolicy, CrashLoopBackOff, probes; graceful deletion (SIGTERM the process
group, wait the grace period, SIGKILL, then delete the object with grace 0).
State is on disk (runtime.ContainerDir) so a restarted kubelet adopts running
containers with their restart counts; faults.kill_pods_on_restart kills them
instead, as if the runtime had died with the control plane.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

from ..config import NodeConfig
from . import env
from .attachio import Stdio
from .client import ApiError, Client
from .commands import NoCommand, container_argv, default_path
from .events import emit
from .images import busybox_bin
from .podenv import RUNTIME_VARIABLES, PodEnv
from .podnet import PodNet, PodNetwork, resolv_conf
from .probes import Prober
from .runtime import ContainerDir, ContainerState, reap, remove_tree
from .util import Obj, log, now, parse_time
from .volumes import Bind, VolumeNotReady, Volumes, mount_script

BACKOFF_CAP = 300.0
RELIST_SECONDS = 2.0


def kubelet_root(config: NodeConfig) -> Path:
    # k3s keeps the kubelet's root at /var/lib/kubelet, k0s under its data dir, microk8s
    # in $SNAP_COMMON (microk8s-resources/default-args/kubelet: --root-dir).
    if config.flavor == "k0s":
        return Path(config.data_dir) / "kubelet"
    if config.flavor == "microk8s":
        return Path(os.environ.get("SNAP_COMMON", "/var/snap/microk8s/common")) / "var/lib/kubelet"
    return env.under_root("/var/lib/kubelet")


def backoff_base() -> float:
    """CrashLoopBackOff starts at 10 s upstream; tests shorten it."""
    return float(os.environ.get("STANDIN_BACKOFF_SECONDS", "10"))


class Kubelet:
    def __init__(self, client: Client, config: NodeConfig, network: PodNetwork) -> None:
        self.client = client
        self.config = config
        self.network = network
        self.root = kubelet_root(config)
        self.pods_dir = self.root / "pods"
        self.pods_dir.mkdir(parents=True, exist_ok=True)
        self.volumes = Volumes(client)
        self.prober = Prober()
        # The busybox image's /bin/<applet> links, shared by the pods of busybox images.
        self.env = PodEnv(client, config, network, busybox_bin(self.root / "images" / "busybox"))
        self._started = False
        self._sent: dict[str, Any] = {}  # last status written per pod uid
        self._killing: dict[str, float] = {}  # uid -> SIGKILL deadline
        self._mount_ns = os.geteuid() == 0
        # Set by the pods watch; the kubelet re-lists pods when it is set or every
        # RELIST_SECONDS, and checks its local containers every pass in between.
        self.changed = threading.Event()
        self._pods: list[Obj] = []
        self._node: Obj = {}
        self._listed = 0.0

    # -- loop ------------------------------------------------------------------
    def step(self) -> None:
        reap()
        if not self._started:
            self._startup()
            self._started = True
        if self.changed.is_set() or time.monotonic() - self._listed > RELIST_SECONDS:
            self.changed.clear()
            node_obj = self.client.get_or_none("nodes", self.config.node_name)
            if node_obj is None:
                return  # not registered yet (node-status loop); nothing can be bound to us
            self._node = node_obj
            self._pods = [
                p
                for p in self.client.list("pods")
                if p["spec"].get("nodeName") == self.config.node_name
            ]
            self._listed = time.monotonic()
        node, pods = self._node, self._pods
        seen = set()
        for pod in pods:
            uid = pod["metadata"]["uid"]
            seen.add(uid)
            try:
                if pod["metadata"].get("deletionTimestamp"):
                    self._terminate(pod)
                else:
                    self._sync(pod, node)
            except ApiError as err:
                if err.status not in (404, 409):
                    raise
        for pod_dir in self.pods_dir.iterdir():
            if pod_dir.name not in seen and (pod_dir / "pod.json").exists():
                # The object is gone (force-deleted or removed while we were down).
                self._kill_all(pod_dir, grace=0)
                self._cleanup(pod_dir.name)

    def _startup(self) -> None:
        """Adopt containers left by a previous kubelet, or kill them (fault)."""
        for pod_dir in self.pods_dir.iterdir():
            for cdir in self._container_dirs(pod_dir):
                state = cdir.state()
                if state is None or not state.running:
                    continue
                if self.config.faults.kill_pods_on_restart:
                    log.info("kill_pods_on_restart: killing %s", cdir.path)
                    cdir.kill_now()
                else:
                    log.info("adopting running container %s (pid %s)", cdir.path, state.pid)

    def _container_dirs(self, pod_dir: Path) -> list[ContainerDir]:
        base = pod_dir / "containers"
        return [ContainerDir(p) for p in sorted(base.iterdir())] if base.is_dir() else []

    # -- pod sync ----------------------------------------------------------------
    def _sync(self, pod: Obj, node: Obj) -> None:
        uid = pod["metadata"]["uid"]
        pod_dir = self.pods_dir / uid
        info = self._pod_info(pod_dir)
        if info.get("final"):
            return
        waiting_reason = ("ContainerCreating", "")
        try:
            if "ips" not in info:
                net = self.network.setup(pod, node)
                info = {
                    "namespace": pod["metadata"]["namespace"],
                    "name": pod["metadata"]["name"],
                    "uid": uid,
                    "ips": net.ips,
                    "netns": net.netns,
                    "startTime": now(),
                }
                self._save_info(pod_dir, info)
            if "volumes" not in info:
                # Set up once per pod, like the kubelet's mount step before the sandbox runs.
                prepared = self.volumes.prepare(pod, pod_dir)
                info["volumes"] = {k: str(v) for k, v in prepared.items()}
                self._save_info(pod_dir, info)
            paths = {k: Path(v) for k, v in info["volumes"].items()}
        except VolumeNotReady as err:
            self._warn_once(pod, "FailedMount", f"MountVolume.SetUp failed: {err}")
            paths = None
        except RuntimeError as err:
            self._warn_once(pod, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {err}")
            paths = None
        statuses: dict[str, Obj] = {}
        init_statuses: list[Obj] = []
        initialized = True
        if paths is not None:
            for container in pod["spec"].get("initContainers") or []:
                status, done = self._run_container(pod, pod_dir, info, container, paths, True)
                init_statuses.append(status)
                if not done:
                    initialized = False
                    break
            if initialized:
                for container in pod["spec"]["containers"]:
                    statuses[container["name"]], _ = self._run_container(
                        pod, pod_dir, info, container, paths, False
                    )
        for container in pod["spec"]["containers"]:
            statuses.setdefault(container["name"], self._waiting(container, *waiting_reason))
        self._report(pod, pod_dir, info, init_statuses, list(statuses.values()), initialized)

    def _pod_info(self, pod_dir: Path) -> dict[str, Any]:
        try:
            return dict(json.loads((pod_dir / "pod.json").read_text()))
        except (OSError, ValueError):
            return {}

    def _save_info(self, pod_dir: Path, info: dict[str, Any]) -> None:
        pod_dir.mkdir(parents=True, exist_ok=True)
        tmp = pod_dir / "pod.json.tmp"
        tmp.write_text(json.dumps(info))
        tmp.replace(pod_dir / "pod.json")

    def _warn_once(self, pod: Obj, reason: str, message: str) -> None:
        key = f"warn:{pod['metadata']['uid']}:{reason}"
        if time.monotonic() - self._sent.get(key, -1e9) > 30:
            self._sent[key] = time.monotonic()
            emit(self.client, pod, reason, message, type_="Warning", host=self.config.node_name)

    def _waiting(
        self,
        container: Obj,
        reason: str,
        message: str = "",
        restarts: int = 0,
        last: Obj | None = None,
    ) -> Obj:
        state: Obj = {"reason": reason}
        if message:
            state["message"] = message
        return {
            "name": container["name"],
            "image": container.get("image", ""),
            "imageID": "",
            "ready": False,
            "started": False,
            "restartCount": restarts,
            "state": {"waiting": state},
            "lastState": last or {},
        }

    def _run_container(
        self,
        pod: Obj,
        pod_dir: Path,
        info: dict[str, Any],
        container: Obj,
        paths: dict[str, Path],
        init: bool,
    ) -> tuple[Obj, bool]:
        """Converge one container; returns its status and whether it is done (init)."""
        name = container["name"]
        cdir = ContainerDir(pod_dir / "containers" / (("init-" if init else "") + name))
        state = cdir.state()
        policy = pod["spec"].get("restartPolicy", "Always")
        if init and policy == "Always":
            policy = "OnFailure"  # init containers never restart after success
        if state is None:
            return self._start(pod, info, container, cdir, paths, 0, {}), False
        meta = state.meta
        restarts = int(meta.get("restartCount", 0))
        last = meta.get("lastState") or {}
        if state.running:
            return self._running_status(pod, info, container, cdir, state, restarts, last), False
        assert state.exit is not None
        code = int(state.exit.get("exitCode", 0))
        terminated = {
            "terminated": {
                "exitCode": code,
                "reason": state.exit.get("reason", "Error"),
                "startedAt": state.exit.get("startedAt"),
                "finishedAt": state.exit.get("finishedAt"),
                "containerID": f"containerd://{meta['containerID']}",
            }
        }
        restart = policy == "Always" or (policy == "OnFailure" and code != 0)
        if not restart:
            status = self._status(container, meta, terminated, last, ready=False)
            return status, code == 0
        finished = parse_time(state.exit.get("finishedAt")) or time.time()
        # Upstream backs off 10 s, 20 s, 40 s ... capped at 5 min between restarts; the very
        # first restart follows the exit almost at once.
        delay = min(BACKOFF_CAP, backoff_base() * 2 ** min(restarts - 1, 10)) if restarts else 0.0
        if time.time() - finished < delay:
            message = (
                f"back-off {int(delay)}s restarting failed container={name} "
                f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}"
                f"({pod['metadata']['uid']})"
            )
            if meta.get("backoffEvent") != restarts:
                meta["backoffEvent"] = restarts
                cdir.save_meta(meta)
                emit(
                    self.client,
                    pod,
                    "BackOff",
                    f"Back-off restarting failed container "
                    f"{name} in pod {pod['metadata']['name']}_{pod['metadata']['namespace']}"
                    f"({pod['metadata']['uid']})",
                    type_="Warning",
                    host=self.config.node_name,
                )
            return self._waiting(
                container, "CrashLoopBackOff", message, restarts, terminated
            ), False
        self.prober.forget(pod["metadata"]["uid"], name)
        return self._start(pod, info, container, cdir, paths, restarts + 1, terminated), False

    def _start(
        self,
        pod: Obj,
        info: dict[str, Any],
        container: Obj,
        cdir: ContainerDir,
        paths: dict[str, Path],
        restarts: int,
        last: Obj,
    ) -> Obj:
        ns, pod_name, uid = (pod["metadata"][k] for k in ("namespace", "name", "uid"))
        name = container["name"]
        try:
            binds = self.volumes.binds(container, paths)
            environment = self.env.build(pod, info, container)
            variables = {k: v for k, v in environment.items() if k not in RUNTIME_VARIABLES}
            argv = container_argv(container, variables, self.env.busybox_bin)
        except (NoCommand, VolumeNotReady, ApiError) as err:
            reason = (
                "CreateContainerConfigError"
                if isinstance(err, ApiError | VolumeNotReady)
                else "CreateContainerError"
            )
            self._warn_once(pod, "Failed", f"Error: {err}")
            return self._waiting(container, reason, str(err), restarts, last)
        # The runtime's own tools by absolute path: they run with the container's PATH,
        # which for busybox images finds busybox's ip and mount first.
        wrapper: list[str] = []
        if info.get("netns"):
            wrapper = [shutil.which("ip") or "ip", "netns", "exec", info["netns"]]
        workdir = container.get("workingDir")
        if info.get("netns") and resolv_conf(info["netns"]).exists():
            # `ip netns exec` binds /etc/netns/<ns>/resolv.conf itself; binding it again
            # here also covers STANDIN_ROOT layouts (tests) where it is elsewhere.
            binds = [*binds, Bind(resolv_conf(info["netns"]), "/etc/resolv.conf", True)]
        if binds or (workdir and info.get("netns")):
            if not info.get("netns"):
                if not self._mount_ns:
                    return self._waiting(
                        container,
                        "CreateContainerError",
                        "volume mounts need root (mount namespaces)",
                        restarts,
                        last,
                    )
                wrapper = [
                    shutil.which("unshare") or "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                ]
            script = mount_script(binds, workdir, default_path())
            wrapper += ["/bin/sh", "-c", script, "sh"]
        log_file = self.config.pod_log_dir / f"{ns}_{pod_name}_{uid}" / name / f"{restarts}.log"
        if restarts == 0 and not last:
            emit(
                self.client,
                pod,
                "Pulled",
                f'Container image "{container.get("image")}" already present on machine',
                host=self.config.node_name,
            )
        emit(self.client, pod, "Created", f"Created container {name}", host=self.config.node_name)
        cid = cdir.start(
            wrapper + argv,
            environment,
            None if wrapper else workdir,
            log_file,
            restarts,
            Stdio.from_spec(container),
        )
        meta = cdir.meta
        meta["lastState"] = last
        cdir.save_meta(meta)
        emit(self.client, pod, "Started", f"Started container {name}", host=self.config.node_name)
        running = {"running": {"startedAt": meta["startedAt"]}}
        status = self._status(container, {**meta, "containerID": cid}, running, last, False)
        return status

    def _running_status(
        self,
        pod: Obj,
        info: dict[str, Any],
        container: Obj,
        cdir: ContainerDir,
        state: ContainerState,
        restarts: int,
        last: Obj,
    ) -> Obj:
        uid = pod["metadata"]["uid"]
        name = container["name"]
        host = self._probe_host(info)
        prefix = self._exec_prefix(info, state)
        since = float(state.meta.get("startedEpoch", 0))
        ready = True
        probe = container.get("readinessProbe")
        if probe:
            ready = self.prober.check(
                (uid, name, "readiness"),
                probe,
                container,
                host,
                prefix,
                since,
                initial=self._was_ready(pod, name, state),
            ).ok
        liveness = container.get("livenessProbe")
        if liveness:
            live = self.prober.check(
                (uid, name, "liveness"), liveness, container, host, prefix, since
            )
            if live.failures >= int(liveness.get("failureThreshold", 3)):
                emit(
                    self.client,
                    pod,
                    "Unhealthy",
                    "Liveness probe failed",
                    type_="Warning",
                    host=self.config.node_name,
                )
                emit(
                    self.client,
                    pod,
                    "Killing",
                    f"Container {name} failed liveness probe, will be restarted",
                    host=self.config.node_name,
                )
                cdir.signal(signal.SIGKILL)
                self.prober.forget(uid, name)
        running = {"running": {"startedAt": state.meta.get("startedAt")}}
        return self._status(container, state.meta, running, last, ready)

    @staticmethod
    def _was_ready(pod: Obj, name: str, state: ContainerState) -> bool:
        """Whether the status on record says this very container is ready.

        A kubelet restart (k3s and k0s restart theirs with the server) adopts running
        containers; the pod stays Ready until its readiness probe actually fails, so the
        Endpoints keep it and Service traffic is not dropped. Starting from "not ready"
        would flap every probed pod out of its Services on each control-plane restart.
        """
        cid = f"containerd://{state.meta.get('containerID')}"
        return any(
            s.get("name") == name and s.get("containerID") == cid and s.get("ready")
            for s in (pod.get("status") or {}).get("containerStatuses") or []
        )

    def _probe_host(self, info: dict[str, Any]) -> str:
        ips = info.get("ips") or ["127.0.0.1"]
        # In host mode the pod shares the node's stack; loopback always reaches it.
        return ips[0] if info.get("netns") else "127.0.0.1"

    def _exec_prefix(self, info: dict[str, Any], state: ContainerState) -> list[str]:
        if not state.pid:
            return []
        flags = []
        if info.get("netns"):
            flags.append("--net")
        if self._mount_ns:
            flags.append("--mount")
        return ["nsenter", "-t", str(state.pid), *flags, "--"] if flags else []

    def _status(
        self, container: Obj, meta: dict[str, Any], state: Obj, last: Obj, ready: bool
    ) -> Obj:
        return {
            "name": container["name"],
            "image": container.get("image", ""),
            "imageID": f"{container.get('image', '')}@sha256:" + "0" * 64,
            "containerID": f"containerd://{meta.get('containerID', '')}",
            "ready": ready,
            "started": "running" in state,
            "restartCount": int(meta.get("restartCount", 0)),
            "state": state,
            "lastState": last or {},
        }

    # -- status ----------------------------------------------------------------
    def _report(
        self,
        pod: Obj,
        pod_dir: Path,
        info: dict[str, Any],
        init_statuses: list[Obj],
        statuses: list[Obj],
        initialized: bool,
    ) -> None:
        uid = pod["metadata"]["uid"]
        policy = pod["spec"].get("restartPolicy", "Always")
        running = [s for s in statuses if "running" in s["state"]]
        terminated = [s for s in statuses if "terminated" in s["state"]]
        init_failed = any(
            "terminated" in s["state"]
            and s["state"]["terminated"]["exitCode"]
            and policy == "Never"
            for s in init_statuses
        )
        phase = "Pending"
        if init_failed:
            phase = "Failed"
        elif statuses and len(terminated) == len(statuses):
            codes = [s["state"]["terminated"]["exitCode"] for s in terminated]
            phase = "Succeeded" if all(c == 0 for c in codes) else "Failed"
        elif running or any(s["restartCount"] for s in statuses):
            phase = "Running"
        all_ready = bool(statuses) and all(s["ready"] for s in statuses)
        stamp = now()
        previous = {c["type"]: c for c in (pod.get("status") or {}).get("conditions") or []}

        def cond(type_: str, ok: bool, reason: str = "") -> Obj:
            status = "True" if ok else "False"
            prev = previous.get(type_)
            out = {
                "type": type_,
                "status": status,
                "lastTransitionTime": prev["lastTransitionTime"]
                if prev and prev.get("status") == status and prev.get("lastTransitionTime")
                else stamp,
            }
            if reason and not ok:
                out["reason"] = reason
            return out

        done = phase in ("Succeeded", "Failed")
        conditions = [
            cond("PodReadyToStartContainers", "ips" in info),
            cond("Initialized", initialized, "ContainersNotInitialized"),
            cond("Ready", all_ready and not done, "PodCompleted" if done else "ContainersNotReady"),
            cond(
                "ContainersReady",
                all_ready and not done,
                "PodCompleted" if done else "ContainersNotReady",
            ),
            cond("PodScheduled", True),
        ]
        ips = info.get("ips") or []
        host_ips = self.network.host_ips()
        status: Obj = {
            "phase": phase,
            "conditions": conditions,
            "hostIP": host_ips[0],
            "hostIPs": [{"ip": ip} for ip in host_ips],
            "startTime": info.get("startTime"),
            "containerStatuses": statuses,
            "qosClass": "BestEffort",
        }
        if ips:
            status["podIP"] = ips[0]
            status["podIPs"] = [{"ip": ip} for ip in ips]
        if init_statuses:
            status["initContainerStatuses"] = init_statuses
        comparable = json.dumps(
            {**status, "conditions": [(c["type"], c["status"]) for c in conditions]}, sort_keys=True
        )
        if self._sent.get(uid) != comparable or not pod.get("status", {}).get("phase"):
            self.client.patch(
                "pods",
                pod["metadata"]["name"],
                {"status": status},
                namespace=pod["metadata"]["namespace"],
                sub="status",
            )
            self._sent[uid] = comparable
        if done:
            info["final"] = True
            self._save_info(pod_dir, info)

    # -- deletion ----------------------------------------------------------------
    def _terminate(self, pod: Obj) -> None:
        uid = pod["metadata"]["uid"]
        pod_dir = self.pods_dir / uid
        running = [c for c in self._container_dirs(pod_dir) if (s := c.state()) and s.running]
        if uid not in self._killing:
            grace = pod["metadata"].get("deletionGracePeriodSeconds")
            if grace is None:
                grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
            self._killing[uid] = time.monotonic() + float(grace)
            for cdir in running:
                name = cdir.path.name.removeprefix("init-")
                emit(
                    self.client,
                    pod,
                    "Killing",
                    f"Stopping container {name}",
                    host=self.config.node_name,
                )
                cdir.signal(signal.SIGTERM)
        if running and time.monotonic() >= self._killing[uid]:
            for cdir in running:
                cdir.kill_now()
            running = []
        if running:
            return
        self._cleanup(uid)
        self._killing.pop(uid, None)
        self.client.delete("pods", pod["metadata"]["name"], pod["metadata"]["namespace"], grace=0)

    def _kill_all(self, pod_dir: Path, grace: float) -> None:
        for cdir in self._container_dirs(pod_dir):
            state = cdir.state()
            if state and state.running:
                cdir.kill_now()

    def _cleanup(self, uid: str) -> None:
        self.prober.forget(uid)
        self._sent.pop(uid, None)
        self.network.teardown(uid)
        remove_tree(self.pods_dir / uid)

    def shutdown(self) -> None:
        self.prober.pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["Kubelet", "PodNet", "kubelet_root"]
