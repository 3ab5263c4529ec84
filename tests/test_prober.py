"""The prober: outage arithmetic on made-up samples, and real runs against a local server."""

from __future__ import annotations

import http.server
import itertools
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from pytest_k8sdistro.errors import ProbeError
from pytest_k8sdistro.measure.upgrade.prober import (
    Prober,
    Sample,
    api_check,
    http_check,
    outages,
    summarise,
)


def samples(pattern: str, interval: float = 0.1) -> list[Sample]:
    """'..xx.' -> ok, ok, failed, failed, ok at 0, 0.1, 0.2, ..."""
    return [
        Sample(i * interval, 0.001, 200 if c == "." else None, None if c == "." else "refused")
        for i, c in enumerate(pattern)
    ]


def test_no_failures_no_outage() -> None:
    summary = summarise("w", "t", 0.1, samples("....."))
    assert summary.failed_requests == 0
    assert summary.longest_gap_s == summary.total_failed_s == 0
    assert summary.available_at_end
    assert "no failed request out of 5" in summary.describe()


def test_outage_edges_are_half_way_to_the_neighbours() -> None:
    # ok at 0.1, failed 0.2..0.4, ok at 0.5: the outage runs from 0.15 to 0.45.
    found = outages(samples(".." + "xxx" + ".."))
    assert len(found) == 1
    assert found[0].start == pytest.approx(0.15)
    assert found[0].end == pytest.approx(0.45)
    assert found[0].duration == pytest.approx(0.3)
    assert found[0].failed_requests == 3
    assert not found[0].open_start and not found[0].open_end


def test_longest_and_total_over_several_outages() -> None:
    summary = summarise("w", "t", 0.1, samples(".x..xxxx.x."))
    assert [o.failed_requests for o in summary.outages] == [1, 4, 1]
    assert summary.longest_gap_s == pytest.approx(0.4)
    assert summary.total_failed_s == pytest.approx(0.6)
    assert summary.failed_requests == 6
    assert "longest gap 0.40s" in summary.describe()


def test_open_outages_are_flagged() -> None:
    summary = summarise("w", "t", 0.1, samples("xx..xx"))
    assert summary.outages[0].open_start and summary.outages[-1].open_end
    assert not summary.available_at_end
    assert "still unavailable" in summary.describe()


def test_a_wrong_answer_is_a_failure_with_its_status() -> None:
    sample = Sample(0.0, 0.01, 503, "HTTP 503 without 'x'")
    assert not sample.ok
    assert not Sample(0.0, 0.01, 500, None).ok
    assert Sample(0.0, 0.01, 204, None).ok
    assert sample.row() == [0.0, 10.0, 503, "HTTP 503 without 'x'"]


# -- against a real listener ------------------------------------------------------------


class Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"web:test"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.ThreadingHTTPServer]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def url(httpd: http.server.ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}/"


def test_probes_on_its_interval_and_stops(server: http.server.ThreadingHTTPServer) -> None:
    with Prober("w", http_check(url(server), expect="web:test"), interval=0.05) as prober:
        time.sleep(0.6)
    summary = prober.summary()
    assert not prober.running
    assert 8 <= summary.requests <= 14
    assert summary.failed_requests == 0
    assert summary.latency_p50_ms is not None
    gaps = [b.at - a.at for a, b in itertools.pairwise(prober.samples())]
    assert max(gaps) < 0.2


def test_unexpected_body_fails(server: http.server.ThreadingHTTPServer) -> None:
    check = http_check(url(server), expect="something else")
    with pytest.raises(ProbeError) as info:
        check(1.0)
    assert info.value.status == 200


def test_refused_connections_are_recorded() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        prober = Prober("w", http_check(f"http://127.0.0.1:{port}/"), interval=0.05).start()
        time.sleep(0.3)
        summary = prober.stop()
    assert summary.failed_requests == summary.requests > 0
    assert summary.outages[0].first_error == "connection refused"


def test_stops_itself_at_its_bounds() -> None:
    by_samples = Prober("w", lambda timeout: 200, interval=0.01, max_samples=5).start()
    by_time = Prober("w", lambda timeout: 200, interval=0.01, max_duration=0.2).start()
    time.sleep(0.5)
    assert not by_samples.running and not by_time.running
    assert by_samples.summary().requests == 5
    assert by_samples.summary().stopped == "max-samples"
    assert by_time.summary().stopped == "max-duration"


def test_a_slow_check_skips_ticks_instead_of_bursting() -> None:
    calls: list[float] = []

    def slow(timeout: float) -> int:
        calls.append(time.monotonic())
        time.sleep(0.25)
        return 200

    prober = Prober("w", slow, interval=0.05).start()
    time.sleep(0.8)
    prober.stop()
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert gaps and min(gaps) >= 0.25


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        Prober("w", lambda timeout: 200, interval=0)
    prober = Prober("w", lambda timeout: 200).start()
    with pytest.raises(RuntimeError):
        prober.start()
    prober.stop()


def test_api_check_reads_credentials_from_the_kubeconfig(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1', "
        "insecure-skip-tls-verify: true}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
        "users: [{name: u, user: {token: abc}}]\n"
    )
    check = api_check(path)
    with pytest.raises(ConnectionRefusedError):
        check(0.5)
