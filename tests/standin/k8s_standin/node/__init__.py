"""Node side of the stand-in: kubelet, kube-proxy, controllers and add-ons.

Contract with the API server (k8s_standin.api):
- `start(config)` is called once, after the API serves; it returns quickly and runs
  its work in daemon threads. It talks to the API over HTTPS only, with the
  credentials in `config.kubeconfig_path`, like real kubelets and controllers.
- Servers (`config.is_server`) run the controllers (node IPAM, scheduler,
  Deployment/ReplicaSet/DaemonSet/StatefulSet, Job/CronJob, garbage collector,
  Endpoints) and the
  distribution's add-ons; nodes with a kubelet (`enable_worker`, or any agent)
  register a Node and run pods as real processes.
- Pods bound to an existing Node are deleted gracefully: the kubelet stops the
  containers and removes the object with a DELETE carrying gracePeriodSeconds=0.
- NetworkPolicies are enforced on each node with a kubelet (netpol.py, kube-router's
  way), in netns pod-network mode only.
- Container logs go to `config.pod_log_dir / f"{ns}_{pod}_{uid}" / container /
  f"{restartCount}.log"` in CRI format; the API serves pods/log from there.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import NodeConfig
from .feed import ChangeFeed
from .util import Loop, log

__all__ = ["Node", "NodeConfig", "start"]


@dataclass
class Node:
    """Handle on the running node side; `stop()` ends the threads, never the pods."""

    config: NodeConfig
    loops: list[Loop] = field(default_factory=list)
    feed: ChangeFeed | None = None
    kubelet_server: Any = None

    def stop(self) -> None:
        if self.feed is not None:
            self.feed.stopped.set()
        for loop in self.loops:
            loop.stop()


def _client(config: NodeConfig, name: str):  # type: ignore[no-untyped-def]
    from .client import Client, Credentials

    creds = Credentials.from_kubeconfig(config.kubeconfig_path)
    if config.api_url:
        creds.server = config.api_url
    return Client(creds, user_agent=f"{name}/{config.version} (linux/amd64) k8s-standin")


def start(config: NodeConfig) -> Node:
    """Start the kubelet and controllers for `config` in daemon threads."""
    from . import (
        addons,
        batch,
        cni,
        endpoints,
        env,
        ipam,
        netpol,
        proxy,
        scheduler,
        statefulset,
        workloads,
    )
    from .kubelet import Kubelet
    from .nodereg import NodeRegistration
    from .podnet import PodNetwork

    node = Node(config)
    period = env.interval()
    feed = ChangeFeed(_client(config, "informers"))
    node.feed = feed

    def loop(
        name: str, step: Callable[[], None], every: float = period, watch: tuple[str, ...] = ()
    ) -> None:
        wake = threading.Event() if watch else None
        if wake is not None:
            feed.subscribe(watch, wake)
        thread = Loop(name, step, every, wake)
        node.loops.append(thread)
        thread.start()

    # Controllers wake on watch events and resync on a timer (see feed.py).
    resync = max(2.0, 5 * period)
    if config.is_server:
        ctl = _client(config, "kube-controller-manager")
        loop("node-ipam", ipam.NodeIpam(ctl, config).step, resync, ("nodes",))
        loop(
            "scheduler",
            scheduler.Scheduler(_client(config, "kube-scheduler")).step,
            2.0,
            ("pods", "nodes", "persistentvolumeclaims"),
        )
        loop(
            "deployments",
            workloads.DeploymentController(ctl).step,
            resync,
            ("deployments", "replicasets"),
        )
        loop(
            "replicasets",
            workloads.ReplicaSetController(_client(config, "rs")).step,
            resync,
            ("replicasets", "pods"),
        )
        loop(
            "daemonsets",
            workloads.DaemonSetController(_client(config, "ds")).step,
            resync,
            ("daemonsets", "pods", "nodes"),
        )
        loop(
            "statefulsets",
            statefulset.StatefulSetController(
                _client(config, "sts"), new_volumes=config.faults.statefulset_new_volumes
            ).step,
            resync,
            ("statefulsets", "pods", "persistentvolumeclaims"),
        )
        if not config.faults.no_batch_controller:
            loop("jobs", batch.JobController(_client(config, "job")).step, resync, ("jobs", "pods"))
        # Every second: a schedule is due at a minute's start, whatever changed.
        loop(
            "cronjobs",
            batch.CronJobController(_client(config, "cronjob")).step,
            1.0,
            ("cronjobs", "jobs"),
        )
        loop(
            "endpoints",
            endpoints.EndpointsController(_client(config, "ep")).step,
            resync,
            ("services", "pods"),
        )
        for name, step, watch in addons.controllers(_client(config, config.flavor), config):
            loop(name, step, resync if watch else 1.0, watch)
    if config.enable_worker or not config.is_server:
        # The runtime runs before the kubelet registers, which reports its version.
        from . import containerd

        state = env.under_root(f"/run/{config.flavor}/containerd")
        config = dataclasses.replace(config, runtime_version=containerd.start(config.flavor, state))
        node.config = config
        kube = _client(config, "kubelet")
        registration = NodeRegistration(kube, config)
        network = PodNetwork(config)
        try:
            cni.write(config)
        except OSError as err:
            log.warning("cannot write CNI config: %s", err)
        kubelet = Kubelet(kube, config, network)
        feed.subscribe(("pods",), kubelet.changed)
        loop("node-status", registration.heartbeat, 1.0)
        loop("kubelet", kubelet.step)
        from .. import streaming
        from . import resourcemetrics
        from .streams import NodeRuntime

        runtime = NodeRuntime(kubelet)
        resource_metrics = resourcemetrics.source(
            _client(config, "kubelet-metrics"), config.node_name, kubelet.pods_dir
        )
        if config.is_server:
            # exec and port-forward for the API server's own node, served in-process;
            # metrics-server (metrics.py, in this process) reads this node directly.
            from .. import metrics

            streaming.register(config.node_name, runtime)
            metrics.set_local(config.node_name, resource_metrics)
        else:
            # The API server reads its own node's pod logs from disk; other nodes'
            # it asks of their kubelet, as real API servers ask every kubelet.
            from . import kubeletserver

            node.kubelet_server = kubeletserver.serve(
                _client(config, "kubelet-server"),
                config,
                runtime=runtime,
                resource_metrics=resource_metrics,
            )
        loop(
            "kube-proxy",
            proxy.Proxy(_client(config, "kube-proxy"), config, network).step,
            resync,
            ("services", "pods", "nodes"),
        )
        loop(
            "network-policy",
            netpol.NetworkPolicyController(_client(config, "kube-router"), config, network).step,
            resync,
            ("networkpolicies", "pods", "namespaces"),
        )
    log.info(
        "node side started for %s (%s, pod network %s, pid %d)",
        config.node_name,
        config.flavor,
        env.pod_network(),
        os.getpid(),
    )
    return node
