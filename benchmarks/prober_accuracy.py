"""How exactly the prober measures an outage of known length.

A child process serves HTTP on loopback. On command it closes its listening socket,
sleeps for the outage (2.0 s by default) and listens again, and reports when it
closed and reopened (CLOCK_MONOTONIC, shared by every process on Linux): that
difference is the true outage. The prober, in this process, probes every interval
(0.1 s by default) throughout; its longest gap is compared with the truth. Each
round waits a random fraction of an interval before the outage, so the outage's
edges fall at every phase of the probing schedule. An outage that lasts a whole
number of intervals is measured almost exactly (both edges are off by the same
phase), so a second series draws outages uniformly from +-half an interval around
the nominal length: there each edge is off by up to half an interval, at random.
Bound: within +-0.2 s in both series.

    python benchmarks/prober_accuracy.py [--rounds 10] [--outage 2.0] [--interval 0.1]
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_k8sdistro.measure.upgrade.prober import Prober, http_check  # noqa: E402

BOUND_S = 0.2
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def serve() -> None:
    """Child mode: serve, and take 'down SECONDS' commands on stdin."""

    def listener(port: int = 0) -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        sock.settimeout(0.01)
        return sock

    state = {"sock": listener(), "down": 0.0}
    port = state["sock"].getsockname()[1]  # type: ignore[union-attr]
    print(port, flush=True)
    lock = threading.Lock()

    def commands() -> None:
        for line in sys.stdin:
            with lock:
                state["down"] = float(line.split()[1])

    threading.Thread(target=commands, daemon=True).start()
    while True:
        with lock:
            down, state["down"] = state["down"], 0.0
        if down:
            state["sock"].close()  # type: ignore[union-attr]
            closed = time.monotonic()
            time.sleep(down)
            state["sock"] = listener(port)
            opened = time.monotonic()
            print(f"{closed} {opened}", flush=True)
        try:
            conn, _ = state["sock"].accept()  # type: ignore[union-attr]
        except (TimeoutError, OSError):
            continue
        with conn:
            try:
                conn.settimeout(1.0)
                conn.recv(4096)
                conn.sendall(RESPONSE)
            except OSError:
                pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--outage", type=float, default=2.0)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        port = int(child.stdout.readline())
        errors: list[float] = []
        series = [("exact", 0.0)] * args.rounds + [("off-grid", args.interval)] * args.rounds
        for round_, (kind, spread) in enumerate(series):
            outage = args.outage + (random.random() - 0.5) * spread
            prober = Prober(
                "bench", http_check(f"http://127.0.0.1:{port}/"), interval=args.interval
            ).start()
            time.sleep(1.0 + random.random() * args.interval)
            child.stdin.write(f"down {outage}\n")
            child.stdin.flush()
            closed, opened = map(float, child.stdout.readline().split())
            time.sleep(1.0)
            summary = prober.stop()
            truth = opened - closed
            error = summary.longest_gap_s - truth
            errors.append(error)
            print(
                f"{kind} round {round_ + 1}: true outage {truth:.3f}s, "
                f"measured {summary.longest_gap_s:.3f}s "
                f"(total {summary.total_failed_s:.3f}s, {summary.failed_requests} failed of "
                f"{summary.requests}), error {error:+.3f}s"
            )
    finally:
        child.kill()
        child.wait()
    worst = max(errors, key=abs)
    verdict = "within" if abs(worst) <= BOUND_S else "OUTSIDE"
    print(
        f"interval {args.interval}s, outage {args.outage}s, {len(errors)} rounds: mean error "
        f"{statistics.mean(errors):+.3f}s, worst {worst:+.3f}s -> {verdict} +-{BOUND_S}s"
    )
    return 0 if abs(worst) <= BOUND_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
