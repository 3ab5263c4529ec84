"""Readiness waits: order, bounds, transient errors and what a timeout reports."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest
from kubernetes.client.exceptions import ApiException

from pytest_k8sdistro import interrupt
from pytest_k8sdistro.errors import ReadinessTimeout
from pytest_k8sdistro.kube.readiness import LogLine, Probe, wait_until_ready


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Scripted:
    """A wait whose answers are scripted: a string is "missing", None is met."""

    name: str
    answers: list[str | BaseException | None]
    calls: int = field(default=0)

    def missing(self, probe: Probe) -> str | None:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, BaseException):
            raise answer
        return answer


def probe(logs: str = "") -> Probe:
    return Probe(
        kubeconfig="/nonexistent", read_logs=lambda tail: "\n".join(logs.splitlines()[-tail:])
    )


def test_stages_pass_in_order_and_timings_are_recorded() -> None:
    clock = FakeClock()
    first = Scripted("first", ["not yet", "not yet", None])
    second = Scripted("second", [None])
    timings = wait_until_ready(
        [first, second], probe(), timeout=30, poll=1.0, clock=clock, sleep=clock.sleep
    )
    assert list(timings) == ["first", "second"]
    assert timings["first"] == 2.0
    assert second.calls == 1


def test_timeout_names_the_stage_what_is_missing_and_shows_logs() -> None:
    clock = FakeClock()
    stuck = Scripted("nodes Ready", ["1 Ready node(s) (Ready: none; not Ready: ['n1'])"])
    with pytest.raises(ReadinessTimeout) as caught:
        wait_until_ready(
            [Scripted("API /readyz", [None]), stuck],
            probe("line one\nkubelet: cannot enter cgroupv2\n"),
            timeout=5,
            clock=clock,
            sleep=clock.sleep,
            hint="check cgroups",
        )
    message = str(caught.value)
    assert "stage 'nodes Ready' still waits for: 1 Ready node(s)" in message
    assert "stages passed: API /readyz" in message
    assert "hint: check cgroups" in message
    assert "    kubelet: cannot enter cgroupv2" in message
    assert clock.now == pytest.approx(5.0)


def test_transient_api_errors_mean_not_yet() -> None:
    clock = FakeClock()
    flaky = Scripted(
        "API /readyz", [ConnectionRefusedError(111, "refused"), ApiException(503), None]
    )
    timings = wait_until_ready(
        [flaky], probe(), timeout=10, poll=1.0, clock=clock, sleep=clock.sleep
    )
    assert timings["API /readyz"] == 2.0


def test_last_transient_error_is_reported_on_timeout() -> None:
    clock = FakeClock()
    down = Scripted("API /readyz", [ConnectionRefusedError(111, "Connection refused")])
    with pytest.raises(ReadinessTimeout, match="ConnectionRefusedError"):
        wait_until_ready([down], probe(), timeout=3, clock=clock, sleep=clock.sleep)


def test_client_errors_are_not_retried() -> None:
    clock = FakeClock()
    broken = Scripted("API /readyz", [ApiException(400, "Bad Request")])
    with pytest.raises(ApiException):
        wait_until_ready([broken], probe(), timeout=10, clock=clock, sleep=clock.sleep)
    assert broken.calls == 1


def test_log_line_stage_reads_the_logs() -> None:
    assert LogLine("k3s is up and running").missing(probe("k3s is up and running\n")) is None
    missing = LogLine("k3s is up and running").missing(probe("starting\n"))
    assert missing == "the line 'k3s is up and running' in the log"


def test_log_line_is_found_after_many_later_lines() -> None:
    # A node that logs a lot right after its ready line must not hide it.
    logs = "k3s is up and running\n" + "noise\n" * 5000
    assert LogLine("k3s is up and running").missing(probe(logs)) is None


def test_timeout_shows_only_the_last_lines() -> None:
    clock = FakeClock()
    logs = "".join(f"line {n}\n" for n in range(100))
    with pytest.raises(ReadinessTimeout) as caught:
        wait_until_ready(
            [Scripted("x", ["never"])], probe(logs), timeout=1, clock=clock, sleep=clock.sleep
        )
    assert "line 99" in str(caught.value) and "line 59" not in str(caught.value)


def test_a_wait_in_a_boot_thread_ends_when_the_run_is_interrupted() -> None:
    """Ctrl-C reaches the main thread only; the boot thread's wait must end too, at
    once, not when the cluster is up or the timeout is reached."""
    never = Scripted("never", ["not yet"])
    ended: list[BaseException] = []

    def boot() -> None:
        try:
            wait_until_ready([never], probe(), timeout=600, poll=0.5)
        except BaseException as exc:
            ended.append(exc)

    thread = threading.Thread(target=boot)
    thread.start()
    try:
        time.sleep(0.3)
        assert thread.is_alive()
        interrupt.interrupt()
        thread.join(timeout=5)
        assert not thread.is_alive()
        assert len(ended) == 1 and isinstance(ended[0], interrupt.Interrupted), ended
        assert isinstance(ended[0], KeyboardInterrupt)
    finally:
        interrupt.reset()
        thread.join(timeout=5)
