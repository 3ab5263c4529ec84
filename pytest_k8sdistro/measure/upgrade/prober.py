"""An outside-the-cluster prober: one request every ``interval`` in a thread, each one recorded.

The upgrade suite runs two: one against the workload through the port the host
reaches it on, one against the API's ``/readyz``. Every request opens a new
connection, so a listener that went away is noticed on the next request rather
than hidden by a kept-alive socket or a client's retries.

How downtime is computed: a run of failed requests is one outage. Its edges are
put half-way between the last success and the first failure, and between the last
failure and the next success, which makes the estimate unbiased with an error of at
most one interval at each edge (measured in ``benchmarks/prober_accuracy.py``).

The prober is bounded: it stops itself after ``max_duration`` seconds or
``max_samples`` requests, whichever comes first, and says why in its summary.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_k8sdistro.errors import ProbeError

#: A check sends one request with the given timeout and returns the HTTP status; it
#: raises (OSError, :class:`ProbeError`, anything) when there was no usable answer.
Check = Callable[[float], int]

DEFAULT_INTERVAL_S = 0.1
DEFAULT_TIMEOUT_S = 1.0
#: Bounds that stop a prober somebody forgot to stop: half an hour, or as many
#: samples as 10 Hz gives in about three hours.
DEFAULT_MAX_DURATION_S = 1800.0
DEFAULT_MAX_SAMPLES = 100_000


@dataclass(frozen=True, slots=True)
class Sample:
    #: Seconds from the prober's start to the moment the request was sent.
    at: float
    #: Seconds until the answer, or until the request failed.
    latency: float
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 400

    def row(self) -> list[Any]:
        """Compact form for timelines: [at, latency_ms, status, error]."""
        return [round(self.at, 4), round(self.latency * 1000, 2), self.status, self.error]


@dataclass(frozen=True)
class Outage:
    """A run of failed requests, with its edges estimated half-way to the neighbours."""

    start: float
    end: float
    failed_requests: int
    first_error: str
    #: The outage was already going on when probing started, or still was when it
    #: stopped: that edge is the first or last sample, not an estimate.
    open_start: bool = False
    open_end: bool = False

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class Summary:
    name: str
    target: str
    interval_s: float
    requests: int
    failed_requests: int
    #: Longest outage and all outages together, in seconds (0 when nothing failed).
    longest_gap_s: float
    total_failed_s: float
    duration_s: float
    outages: list[Outage] = field(default_factory=list)
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_max_ms: float | None = None
    #: "stopped" (asked to), "max-duration" or "max-samples" (stopped itself).
    stopped: str = "stopped"
    #: Whether the last request succeeded (an outage still open at the end is not).
    available_at_end: bool = True

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outages"] = [{**asdict(o), "duration": round(o.duration, 4)} for o in self.outages]
        return data

    def describe(self) -> str:
        if not self.failed_requests:
            return f"no failed request out of {self.requests} ({self.name})"
        first = self.outages[0] if self.outages else None
        text = (
            f"{self.name} unavailable {self.total_failed_s:.2f}s in total, longest gap "
            f"{self.longest_gap_s:.2f}s ({self.failed_requests} of {self.requests} requests "
            f"failed in {len(self.outages)} outage(s)"
        )
        if first is not None:
            text += f"; first at +{first.start:.1f}s: {first.first_error}"
        if not self.available_at_end:
            text += "; still unavailable when probing stopped"
        return text + ")"


def outages(samples: list[Sample]) -> list[Outage]:
    """The runs of failed requests in ``samples`` (in sending order)."""
    found: list[Outage] = []
    index = 0
    while index < len(samples):
        if samples[index].ok:
            index += 1
            continue
        first = index
        while index < len(samples) and not samples[index].ok:
            index += 1
        last = index - 1
        before = samples[first - 1] if first > 0 else None
        after = samples[index] if index < len(samples) else None
        start = (before.at + samples[first].at) / 2 if before else samples[first].at
        end = (samples[last].at + after.at) / 2 if after else samples[last].at
        found.append(
            Outage(
                start=start,
                end=end,
                failed_requests=index - first,
                first_error=samples[first].error or f"HTTP {samples[first].status}",
                open_start=before is None,
                open_end=after is None,
            )
        )
    return found


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summarise(
    name: str, target: str, interval: float, samples: list[Sample], stopped: str = "stopped"
) -> Summary:
    found = outages(samples)
    latencies = [s.latency * 1000 for s in samples if s.ok]

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return Summary(
        name=name,
        target=target,
        interval_s=interval,
        requests=len(samples),
        failed_requests=sum(1 for s in samples if not s.ok),
        longest_gap_s=round(max((o.duration for o in found), default=0.0), 4),
        total_failed_s=round(sum(o.duration for o in found), 4),
        duration_s=round(samples[-1].at - samples[0].at, 4) if samples else 0.0,
        outages=found,
        latency_p50_ms=ms(_percentile(latencies, 0.5)),
        latency_p95_ms=ms(_percentile(latencies, 0.95)),
        latency_max_ms=ms(max(latencies, default=None)),
        stopped=stopped,
        available_at_end=samples[-1].ok if samples else False,
    )


class Prober:
    """Calls ``check`` every ``interval`` seconds in a daemon thread and records each call.

    Requests are sent on a fixed schedule (start + k * interval); one that takes
    longer than the interval delays the next to the following tick, never into a
    burst. Use it as a context manager, or ``start()`` and ``stop()``.
    """

    def __init__(
        self,
        name: str,
        check: Check,
        *,
        target: str = "",
        interval: float = DEFAULT_INTERVAL_S,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_duration: float = DEFAULT_MAX_DURATION_S,
        max_samples: int = DEFAULT_MAX_SAMPLES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0 or timeout <= 0 or max_duration <= 0 or max_samples <= 0:
            raise ValueError("interval, timeout and the bounds must be positive")
        self.name = name
        self.target = target
        self.check = check
        self.interval = interval
        self.timeout = timeout
        self.max_duration = max_duration
        self.max_samples = max_samples
        self.clock = clock
        self.started_at: float | None = None
        #: time.time() when the prober started, so timelines can be placed in logs.
        self.started_wall: float | None = None
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped_by = "stopped"

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> Prober:
        if self._thread is not None:
            raise RuntimeError(f"prober {self.name} was already started")
        self.started_at = self.clock()
        self.started_wall = time.time()
        self._thread = threading.Thread(target=self._run, name=f"prober-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Summary:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 5.0)
        return self.summary()

    def __enter__(self) -> Prober:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def elapsed(self) -> float:
        """Seconds since the prober started, on its own clock (for marks on the timeline)."""
        return 0.0 if self.started_at is None else self.clock() - self.started_at

    # -- results ---------------------------------------------------------------------

    def samples(self) -> list[Sample]:
        with self._lock:
            return list(self._samples)

    def summary(self) -> Summary:
        return summarise(self.name, self.target, self.interval, self.samples(), self._stopped_by)

    def last_failure_at(self) -> float | None:
        with self._lock:
            for sample in reversed(self._samples):
                if not sample.ok:
                    return sample.at
        return None

    def ok_since(self, at: float) -> bool:
        """Whether at least one request was sent after ``at`` and all since then succeeded."""
        with self._lock:
            recent = [s for s in self._samples if s.at >= at]
        return bool(recent) and all(s.ok for s in recent)

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        assert self.started_at is not None
        origin = self.started_at
        tick = 0
        while not self._stop.is_set():
            now = self.clock()
            if now - origin >= self.max_duration:
                self._stopped_by = "max-duration"
                return
            sent = now - origin
            status: int | None = None
            error: str | None = None
            try:
                status = int(self.check(self.timeout))
            except ProbeError as exc:
                status, error = exc.status, str(exc)
            except Exception as exc:
                error = _describe(exc)
            latency = self.clock() - now
            with self._lock:
                self._samples.append(Sample(sent, latency, status, error))
                full = len(self._samples) >= self.max_samples
            if full:
                self._stopped_by = "max-samples"
                return
            # The next tick in the future: a slow request skips ticks, it never bursts.
            elapsed = self.clock() - origin
            tick = max(tick + 1, int(elapsed / self.interval) + 1)
            self._stop.wait(max(0.0, origin + tick * self.interval - self.clock()))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- checks ---------------------------------------------------------------------------


def _get(
    url: str,
    timeout: float,
    *,
    context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        if parts.scheme == "https":
            sock = (context or ssl.create_default_context()).wrap_socket(
                sock, server_hostname=server_hostname or host
            )
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection.sock = sock
        connection.request(
            "GET", parts.path or "/", headers={"Connection": "close", **(headers or {})}
        )
        response = connection.getresponse()
        return response.status, response.read(64 * 1024)
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def http_check(
    url: str, *, expect: str | None = None, context: ssl.SSLContext | None = None
) -> Check:
    """GET ``url`` on a new connection; with ``expect``, the body must contain it.

    ``context`` is the TLS context for an ``https`` URL (default: the system's CAs).
    """

    def check(timeout: float) -> int:
        status, body = _get(url, timeout, context=context)
        if expect is not None and expect.encode() not in body:
            raise ProbeError(f"HTTP {status} without {expect!r}", status)
        return status

    return check


def api_check(kubeconfig_path: str | Path, path: str = "/readyz") -> Check:
    """GET ``path`` from the API server of ``kubeconfig_path`` with its credentials.

    The TLS context is built once, from the client library's reading of the
    kubeconfig (CA, client certificate or token, ``tls-server-name``), so that
    each request afterwards only opens a connection.
    """
    from pytest_k8sdistro.kube import api as kube

    api = kube.api_client(kubeconfig_path)
    try:
        conf: Any = api.configuration
        context = ssl.create_default_context(cafile=conf.ssl_ca_cert or None)
        if not conf.verify_ssl:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if conf.cert_file:
            context.load_cert_chain(conf.cert_file, conf.key_file)
        headers: dict[str, str] = {}
        token = (conf.api_key or {}).get("authorization") or (conf.api_key or {}).get("BearerToken")
        if token:
            headers["Authorization"] = token if " " in token else f"Bearer {token}"
        server_hostname: str | None = getattr(conf, "tls_server_name", None) or None
        url = str(conf.host).rstrip("/") + path
    finally:
        api.close()  # type: ignore[no-untyped-call]

    def check(timeout: float) -> int:
        status, body = _get(
            url, timeout, context=context, server_hostname=server_hostname, headers=headers
        )
        if status != 200:
            raise ProbeError(f"HTTP {status}: {body[:120].decode(errors='replace')}", status)
        return status

    return check
