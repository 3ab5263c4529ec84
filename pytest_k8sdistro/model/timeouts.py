"""How long suite checks wait: ``--distro-suite-timeout`` and ``--distro-suite-hold``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timeouts:
    #: Longest wait for anything to converge (pods Ready, PVCs Bound, addresses).
    wait: float
    #: How long a state that must *not* change (Pending PVC, no address) is watched.
    hold: float
