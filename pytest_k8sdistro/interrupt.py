"""Ending the waits of clusters that boot in background threads when the run is interrupted.

Ctrl-C and SIGTERM raise KeyboardInterrupt in pytest's main thread only. A cluster
booting in a background thread would otherwise go on waiting (for SSH, a kubeconfig,
readiness: minutes in an emulated VM) before pytest's teardown could remove it.
Each wait of a boot pauses through :func:`pause` instead of ``time.sleep``: once
the run is interrupted, the pause raises :class:`Interrupted` in that thread too,
and the boot's own clean-up (which pauses with ``time.sleep``, so it is never cut
short) removes what it made at once.
"""

from __future__ import annotations

import threading

_interrupted = threading.Event()


class Interrupted(KeyboardInterrupt):
    """The run was interrupted while this thread waited."""


def interrupt() -> None:
    """Say that the run is interrupted: every :func:`pause` raises from now on."""
    _interrupted.set()


def interrupted() -> bool:
    return _interrupted.is_set()


def reset() -> None:
    """Forget an interrupt (a new session in the same process: pytester's in-process runs)."""
    _interrupted.clear()


def pause(seconds: float) -> None:
    """Sleep ``seconds``; raise :class:`Interrupted` as soon as the run is interrupted."""
    if _interrupted.wait(seconds):
        raise Interrupted("the run was interrupted")
