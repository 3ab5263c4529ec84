"""The DNS suite's check of an nslookup answer, against what busybox nslookup prints.

The resolver's own lines name the DNS Service's address, which often begins with the
address looked for (10.43.0.10 and the API Service's 10.43.0.1): the check must pass on
the answer only, never on a "can't find" that merely names the resolver.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_k8sdistro.suite import answers_address

ANSWER = (
    "Server:\t\t10.43.0.10\nAddress:\t10.43.0.10:53\n\n"
    "Name:\tkubernetes.default.svc.cluster.local\nAddress: 10.43.0.1\n"
)
NOT_FOUND = (
    "Server:\t\t10.43.0.10\nAddress:\t10.43.0.10:53\n\n"
    "** server can't find kubernetes.default.svc.cluster.local: NXDOMAIN\n"
)
# busybox before 1.28 numbered its addresses and named the host after them.
OLD_FORMAT = (
    "Server:    10.43.0.10\nAddress 1: 10.43.0.10 kube-dns.kube-system.svc.cluster.local\n\n"
    "Name:      kubernetes.default.svc.cluster.local\nAddress 1: 10.43.0.1 "
    "kubernetes.default.svc.cluster.local\n"
)
OTHER = ANSWER.replace("Address: 10.43.0.1\n", "Address: 10.43.0.12\n")
IPV6 = "Server:\t\tfd00::a\nAddress:\tfd00::a:53\n\nName:\tx\nAddress: fd00::1\n"


def greps() -> list[str]:
    found = ["grep"]
    if shutil.which("busybox"):
        found.append("busybox")  # the pods' own grep, an applet of busybox
    return found


def passes(output: str, ip: str, grep: str, tmp_path: Path) -> bool:
    env = dict(os.environ)
    if grep == "busybox":
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        link = bin_dir / "grep"
        if not link.exists():
            link.symlink_to(shutil.which("busybox") or "busybox")
        env["PATH"] = f"{bin_dir}:{env['PATH']}"
    done = subprocess.run(
        ["sh", "-c", answers_address(ip)], input=output, text=True, env=env, check=False
    )
    return done.returncode == 0


@pytest.mark.parametrize("grep", greps())
def test_only_the_answer_counts(grep: str, tmp_path: Path) -> None:
    assert passes(ANSWER, "10.43.0.1", grep, tmp_path)
    assert passes(OLD_FORMAT, "10.43.0.1", grep, tmp_path)
    assert passes(IPV6, "fd00::1", grep, tmp_path)
    # A plain grep for 10.43.0.1 matched both of these through the resolver's lines.
    assert not passes(NOT_FOUND, "10.43.0.1", grep, tmp_path)
    assert not passes(OTHER, "10.43.0.1", grep, tmp_path)
    assert not passes(ANSWER, "10.43.0.10", grep, tmp_path)
