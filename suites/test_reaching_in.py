"""Reaching in: from the test host, exec into a running pod (its output and exit code
come back) and port-forward to a pod's port (its web page comes back).

Both go through the API server to the pod's kubelet over WebSocket, with the kubernetes
client's ``stream`` and ``portforward``. They are core kubelet features that every
distribution serves, so no profile claims them away.
"""

from __future__ import annotations

from typing import Any

from kubernetes.stream import portforward, stream

from pytest_k8sdistro.suite import Kube, Workloads, fail

#: What the exec'd command prints: a word, and the container's own HOSTNAME variable,
#: so the output proves it ran in that container's environment.
COMMAND = ["sh", "-c", 'echo "reached:$HOSTNAME"']


def _problem(exc: BaseException) -> str:
    """An exception in a line: a failed handshake's status and body, without the
    headers the kubernetes client puts between them."""
    text = str(getattr(exc, "reason", None) or exc).strip()
    if "-+-+-" in text:
        parts = text.split("-+-+-")
        text = f"{parts[0].strip()}: {parts[-1].strip()}"
    return f"{type(exc).__name__}: {text[:600]}"


def _exec(kube: Kube, namespace: str, pod: str, command: list[str], timeout: float) -> Any:
    """The finished exec session (stdout, stderr and the return code read from it)."""
    session = stream(
        kube.core.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        command=command,
        stdin=False,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
    )
    session.run_forever(timeout=timeout)
    return session


def _exec_or_fail(work: Workloads, pod: str, command: list[str]) -> Any:
    __tracebackhide__ = True
    problem = ""
    try:
        session = _exec(work.kube, work.namespace, pod, command, work.timeouts.wait)
    except Exception as exc:  # ApiException, or the WebSocket library's own errors
        problem = _problem(exc)
    if problem:
        fail(
            f"exec into pod {pod} failed",
            expected=f"pods/{pod}/exec upgrades to a WebSocket and runs {command}",
            found=problem,
            evidence=work.evidence,
        )
    if session.is_open():
        session.close()
        fail(
            f"exec into pod {pod} did not end",
            expected=f"{command} ends and the session closes within {work.timeouts.wait}s",
            found=f"still open; stdout so far: {session.read_stdout()!r}",
            evidence=work.evidence,
        )
    return session


def test_exec_returns_output_and_exit_code(work: Workloads) -> None:
    pod = work.web("exec-target").metadata.name
    session = _exec_or_fail(work, pod, COMMAND)
    out, err = session.read_stdout(), session.read_stderr()
    code = session.returncode
    if code != 0 or f"reached:{pod}" not in out:
        fail(
            f"exec into pod {pod} did not return the command's output",
            expected=f"stdout 'reached:{pod}' and exit code 0 from {COMMAND}",
            found=f"exit code {code}; stdout {out!r}; stderr {err!r}",
            evidence=work.evidence,
        )
    failing = ["sh", "-c", "echo failing >&2; exit 3"]
    session = _exec_or_fail(work, pod, failing)
    code, err = session.returncode, session.read_stderr()
    if code != 3:
        fail(
            f"exec into pod {pod} did not report the command's exit code",
            expected=f"exit code 3 from {failing} (Status NonZeroExitCode on the error channel)",
            found=f"exit code {code}; stderr {err!r}",
            evidence=work.evidence,
        )


def test_port_forward_gets_the_page(work: Workloads) -> None:
    pod = work.web("forward-target").metadata.name
    port = 8080
    problem, answer, error = "", b"", None
    try:
        forward = portforward(
            work.kube.core.connect_get_namespaced_pod_portforward,
            pod,
            work.namespace,
            ports=str(port),
        )
        sock = forward.socket(port)
        sock.settimeout(work.timeouts.wait)
        sock.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        while chunk := sock.recv(65536):
            answer += chunk
        sock.close()
        error = forward.error(port)
    except Exception as exc:  # ApiException, socket timeouts, the WebSocket library's
        problem = _problem(exc)
    if problem:
        fail(
            f"port-forward to pod {pod} failed",
            expected=f"pods/{pod}/portforward?ports={port} upgrades to a WebSocket and "
            "carries an HTTP exchange",
            found=problem,
            evidence=work.evidence,
        )
    text = answer.decode(errors="replace")
    if f"web:{pod}" not in text:
        fail(
            f"port-forward to pod {pod} did not get its page",
            expected=f"GET / through port-forward to port {port} answers with 'web:{pod}'",
            found=f"answer {text[-400:]!r}; port error {error!r}",
            evidence=work.evidence,
        )
