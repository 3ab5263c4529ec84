"""Readiness and liveness probes: exec, httpGet, tcpSocket, run off the sync loop."""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from .util import Obj


@dataclass
class ProbeState:
    ok: bool = False
    successes: int = 0
    failures: int = 0
    last: float = 0.0
    future: Future[bool] | None = field(default=None, repr=False)


def _port(value: object, container: Obj) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    for port in container.get("ports") or []:
        if port.get("name") == value:
            return int(port["containerPort"])
    raise ValueError(f"unknown port {value!r}")


def run_probe(probe: Obj, container: Obj, host: str, exec_prefix: list[str]) -> bool:
    timeout = float(probe.get("timeoutSeconds", 1))
    try:
        if "exec" in probe:
            argv = exec_prefix + list(probe["exec"]["command"])
            return subprocess.run(argv, capture_output=True, timeout=timeout).returncode == 0
        if "httpGet" in probe:
            get = probe["httpGet"]
            cls = (
                http.client.HTTPSConnection
                if get.get("scheme") == "HTTPS"
                else http.client.HTTPConnection
            )
            conn = cls(get.get("host") or host, _port(get["port"], container), timeout=timeout)
            try:
                conn.request(
                    "GET",
                    get.get("path", "/"),
                    headers={h["name"]: h["value"] for h in get.get("httpHeaders") or []},
                )
                return 200 <= conn.getresponse().status < 400
            finally:
                conn.close()
        if "tcpSocket" in probe:
            port = _port(probe["tcpSocket"]["port"], container)
            with socket.create_connection(
                (probe["tcpSocket"].get("host") or host, port), timeout=timeout
            ):
                return True
    except (OSError, ValueError, subprocess.TimeoutExpired, http.client.HTTPException):
        return False
    return True


class Prober:
    """Schedules probes per (pod, container, kind) honouring period and thresholds."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="probe")
        self.states: dict[tuple[str, str, str], ProbeState] = {}

    def check(
        self,
        key: tuple[str, str, str],
        probe: Obj,
        container: Obj,
        host: str,
        exec_prefix: list[str],
        running_since: float,
        initial: bool = False,
    ) -> ProbeState:
        """`initial`: the result to report until the first probes decide (a new
        container starts not ready; one adopted after a kubelet restart keeps its state)."""
        state = self.states.setdefault(key, ProbeState(ok=initial))
        if state.future is not None and state.future.done():
            result = state.future.result()
            state.future = None
            if result:
                state.successes += 1
                state.failures = 0
                if state.successes >= int(probe.get("successThreshold", 1)):
                    state.ok = True
            else:
                state.failures += 1
                state.successes = 0
                if state.failures >= int(probe.get("failureThreshold", 3)):
                    state.ok = False
        now = time.time()
        due = now - running_since >= float(
            probe.get("initialDelaySeconds", 0)
        ) and now - state.last >= float(probe.get("periodSeconds", 10))
        if state.future is None and due:
            state.last = now
            state.future = self.pool.submit(run_probe, probe, container, host, exec_prefix)
        return state

    def forget(self, uid: str, container: str | None = None) -> None:
        for key in [
            k for k in self.states if k[0] == uid and (container is None or k[1] == container)
        ]:
            del self.states[key]
