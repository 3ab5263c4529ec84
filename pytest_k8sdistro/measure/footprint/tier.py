"""The memory tiers by name: what ``--distro-memory-tiers`` accepts (no I/O, nothing heavy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Tiers shipped in fixtures/footprint/, cumulative, in this order.
TIERS: tuple[str, ...] = ("empty", "utilities", "app")
TIER_HELP = {
    "empty": "idle cluster + a node-exporter-shaped DaemonSet",
    "utilities": "+ cert-manager-, ingress-controller- and storage-provisioner-shaped pods",
    "app": "+ a Ghost-and-MariaDB-shaped application",
}


@dataclass(frozen=True)
class Tier:
    """A tier by name: a file of fixtures/footprint/, or a manifest of the user's own."""

    name: str
    path: Path | None = None  # None: the shipped fixtures/footprint/<name>.yaml
