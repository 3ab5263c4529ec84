"""The one polling loop, and the one rule for which errors mean "not yet".

Readiness stages, suite checks and footprint tiers all wait with :func:`poll`: a
probe is called until it returns, raising :class:`~pytest_k8sdistro.errors.NotYet`
while the condition does not hold; an error from the API counts as "not yet" only
when :func:`transient` says so, and anything else stops the wait at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from kubernetes.client.exceptions import ApiException

from pytest_k8sdistro.errors import NotYet, PollTimeout

T = TypeVar("T")

#: API answers worth retrying: throttling and server-side trouble.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Also retried while a cluster boots, before its authorizer and RBAC bootstrap are
#: up: a fresh API server refuses even the admin for a moment.
BOOTING_STATUSES = frozenset({401, 403}) | {code for code in range(500, 600)}


def transient(exc: BaseException, *, booting: bool = False) -> str | None:
    """How to describe ``exc`` if it is worth retrying (API busy or unreachable), else None."""
    if isinstance(exc, ApiException):
        statuses = TRANSIENT_STATUSES | (BOOTING_STATUSES if booting else frozenset())
        if exc.status in statuses or (booting and exc.status is None):
            return f"it said {exc.status} {exc.reason}"
        return None
    # urllib3 errors (connection refused, reset, timeouts) and plain socket errors.
    module = type(exc).__module__
    if isinstance(exc, OSError) or module.startswith("urllib3"):
        return f"{type(exc).__name__}: {exc}"
    return None


def poll(
    probe: Callable[[], T],
    *,
    deadline: float,
    interval: float = 1.0,
    booting: bool = False,
    on_wait: Callable[[str, float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``probe`` until it returns, by ``deadline`` (a ``clock()`` value).

    :class:`NotYet` and transient errors wait (``on_wait`` hears what was found and
    the time left); other exceptions propagate at once; past the deadline
    :class:`PollTimeout` carries what was last found.
    """
    found = "nothing yet"
    while True:
        try:
            return probe()
        except NotYet as exc:
            found = exc.found
        except Exception as exc:
            described = transient(exc, booting=booting)
            if described is None:
                raise
            found = f"the API to answer ({described})"
        now = clock()
        if now >= deadline:
            raise PollTimeout(found)
        if on_wait is not None:
            on_wait(found, deadline - now)
        sleep(min(interval, max(0.0, deadline - clock())))
