"""Footprint of a distribution: memory in use, disk used, time to ready.

- :mod:`.memory`: a node's memory read from outside it (cgroup v1/v2 working set
  of a container node, MemTotal - MemAvailable of a VM or host node).
- :mod:`.sampler`: min, median and max over a settle window.
- :mod:`.disk`: bytes of the distribution's install inside the node, and its image.
- :mod:`.tiers`: the memory tiers (fixtures/footprint/) deployed and measured in order.
- :mod:`.nodes`: which of the above fits a cluster's provisioner.
"""

from __future__ import annotations

from pytest_k8sdistro.errors import MeasurementError
from pytest_k8sdistro.measure.footprint.disk import DiskUsage
from pytest_k8sdistro.measure.footprint.memory import (
    ContainerMemory,
    EngineStatsMemory,
    MeminfoMemory,
    MemoryReader,
    NodesMemory,
)
from pytest_k8sdistro.measure.footprint.sampler import Summary, sample
from pytest_k8sdistro.measure.footprint.tiers import TIERS, Tier

__all__ = [
    "TIERS",
    "ContainerMemory",
    "DiskUsage",
    "EngineStatsMemory",
    "MeasurementError",
    "MeminfoMemory",
    "MemoryReader",
    "NodesMemory",
    "Summary",
    "Tier",
    "sample",
]
