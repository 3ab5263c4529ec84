"""Fault switches of the stand-in, parsed once from the environment.

Both the API server and the node side import this module, so one variable always
means the same thing on both sides. Every switch is off unless set to a non-empty
value other than "0".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "") not in ("", "0", "false", "False")


def _number(env: Mapping[str, str], name: str) -> float:
    raw = env.get(name, "")
    try:
        return float(raw) if raw else 0.0
    except ValueError:
        # A typo in a test's environment must not look like "no fault": fail loudly.
        raise ValueError(f"{name}={raw!r} is not a number") from None


@dataclass(frozen=True)
class Faults:
    """What to break on purpose. The field names are the contract with node/."""

    # API server side.
    never_ready: bool = False  # STANDIN_NEVER_READY: /readyz 500, nodes never Ready
    api_down_after: float = 0.0  # STANDIN_API_DOWN_AFTER: seconds after start
    api_down_for: float = 0.0  # STANDIN_API_DOWN_FOR: seconds of refused connections
    hold_memory_mib: int = 0  # STANDIN_HOLD_MEMORY_MIB: resident memory kept by the server
    authz_always_allow: bool = False  # STANDIN_AUTHZ_ALWAYS_ALLOW: no RBAC, admit everyone
    metrics_stale: bool = False  # STANDIN_METRICS_STALE: metrics APIService never Available
    # Node side.
    pvc_pending: bool = False  # STANDIN_PVC_PENDING: provisioner never binds PVCs
    no_ipv6: bool = False  # STANDIN_NO_IPV6: pods/nodes get no IPv6 even if dual-stack
    kill_pods_on_restart: bool = False  # STANDIN_KILL_PODS_ON_RESTART
    missing_ingressclass: bool = False  # STANDIN_MISSING_INGRESSCLASS
    no_batch_controller: bool = False  # STANDIN_NO_BATCH_CONTROLLER: Jobs never get pods
    statefulset_new_volumes: bool = False  # STANDIN_STATEFULSET_NEW_VOLUMES: fresh claims
    # Both sides (the API server serves its own node's streams).
    no_streaming: bool = False  # STANDIN_NO_STREAMING: exec/port-forward upgrades fail

    @property
    def api_down_window(self) -> bool:
        return self.api_down_for > 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Faults:
        env = os.environ if env is None else env
        return cls(
            never_ready=_flag(env, "STANDIN_NEVER_READY"),
            api_down_after=_number(env, "STANDIN_API_DOWN_AFTER"),
            api_down_for=_number(env, "STANDIN_API_DOWN_FOR"),
            hold_memory_mib=int(_number(env, "STANDIN_HOLD_MEMORY_MIB")),
            authz_always_allow=_flag(env, "STANDIN_AUTHZ_ALWAYS_ALLOW"),
            metrics_stale=_flag(env, "STANDIN_METRICS_STALE"),
            pvc_pending=_flag(env, "STANDIN_PVC_PENDING"),
            no_ipv6=_flag(env, "STANDIN_NO_IPV6"),
            kill_pods_on_restart=_flag(env, "STANDIN_KILL_PODS_ON_RESTART"),
            missing_ingressclass=_flag(env, "STANDIN_MISSING_INGRESSCLASS"),
            no_batch_controller=_flag(env, "STANDIN_NO_BATCH_CONTROLLER"),
            statefulset_new_volumes=_flag(env, "STANDIN_STATEFULSET_NEW_VOLUMES"),
            no_streaming=_flag(env, "STANDIN_NO_STREAMING"),
        )
