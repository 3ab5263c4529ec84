"""What probing costs: CPU time of this process over wall time while probers run.

A child process serves on loopback (plain HTTP, and HTTPS with a throwaway
self-signed certificate when the ``openssl`` command exists), so the server's work
is not counted. This process runs the prober at the interval asked (10 Hz by
default) for ``--seconds`` and reads its own CPU time (every thread, user +
system) before and after. Bound: under 5% of one core for one prober at 10 Hz.
The upgrade suite runs two (the workload over HTTP, the API over HTTPS), so both
kinds are reported.

    python benchmarks/prober_cost.py [--seconds 20] [--interval 0.1]
"""

from __future__ import annotations

import argparse
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_k8sdistro.measure.upgrade.prober import Prober, http_check  # noqa: E402

BOUND = 0.05

SERVER = r"""
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
if len(sys.argv) > 1:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
print(httpd.server_address[1], flush=True)
httpd.serve_forever()
"""


def measure(
    name: str, url: str, seconds: float, interval: float, context: ssl.SSLContext | None
) -> float:
    prober = Prober(name, http_check(url, context=context), interval=interval)
    cpu, wall = time.process_time(), time.monotonic()
    prober.start()
    time.sleep(seconds)
    summary = prober.stop()
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    share = cpu / wall
    print(
        f"{name}: {summary.requests} requests in {wall:.1f}s ({summary.requests / wall:.1f}/s, "
        f"{summary.failed_requests} failed, p50 {summary.latency_p50_ms} ms): CPU {cpu:.3f}s "
        f"= {share:.2%} of a core"
    )
    return share


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=0.1)
    args = parser.parse_args()
    shares: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        servers: list[tuple[str, list[str], ssl.SSLContext | None]] = [("http", [], None)]
        if shutil.which("openssl"):
            cert, key = f"{tmp}/cert.pem", f"{tmp}/key.pem"
            subprocess.run(
                [
                    "openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    key,
                    "-out",
                    cert,
                    "-days",
                    "1",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
                check=True,
                capture_output=True,
            )
            context = ssl.create_default_context(cafile=cert)
            context.check_hostname = False
            servers.append(("https", [cert, key], context))
        for scheme, extra, context in servers:
            child = subprocess.Popen(
                [sys.executable, "-c", SERVER, *extra], stdout=subprocess.PIPE, text=True
            )
            try:
                assert child.stdout is not None
                port = int(child.stdout.readline())
                url = f"{scheme}://127.0.0.1:{port}/"
                shares[scheme] = measure(scheme, url, args.seconds, args.interval, context)
            finally:
                child.kill()
                child.wait()
    worst = max(shares.values())
    print(
        f"interval {args.interval}s: worst {worst:.2%} of a core per prober, both together "
        f"{sum(shares.values()):.2%} -> {'under' if worst < BOUND else 'OVER'} {BOUND:.0%}"
    )
    return 0 if worst < BOUND else 1


if __name__ == "__main__":
    raise SystemExit(main())
