"""What to keep after a run: the ``--distro-keep-cluster`` policy."""

from __future__ import annotations

import enum


class KeepPolicy(enum.Enum):
    NEVER = "never"
    ON_FAILURE = "on-failure"
    ALWAYS = "always"

    def keeps(self, *, failed: bool) -> bool:
        """Whether something used by a run (or a test) that ``failed`` is kept."""
        return self is KeepPolicy.ALWAYS or (self is KeepPolicy.ON_FAILURE and failed)
