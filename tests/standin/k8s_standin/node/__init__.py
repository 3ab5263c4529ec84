"""Node side of the stand-in (kubelet + controllers). Stub: owned by the node helper.

Contract with the API server (k8s_standin.api):
- `start(config)` is called once, after the API serves; it must return quickly and
  run its work in daemon threads.
- Pods bound to an existing Node are deleted gracefully, as upstream: DELETE sets
  metadata.deletionTimestamp and deletionGracePeriodSeconds, and the kubelet removes
  the object with a DELETE carrying gracePeriodSeconds=0 once the containers stopped.
  Unbound pods, terminal pods and pods whose Node object is gone are removed at once.
- Container logs go to `config.pod_log_dir / f"{ns}_{pod}_{uid}" / container /
  f"{restartCount}.log"`; the API serves pods/log from there.
"""

from __future__ import annotations

from ..config import NodeConfig

__all__ = ["NodeConfig", "start"]


def start(config: NodeConfig) -> None:
    """Start the kubelet and controllers for `config` (stub until node/ lands)."""
