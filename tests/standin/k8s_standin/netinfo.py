"""Find this machine's addresses without sending a packet anywhere."""

from __future__ import annotations

import json
import socket
import subprocess


def _ip_addrs(family: str) -> list[str]:
    try:
        out = subprocess.run(
            ["ip", "-j", family, "addr", "show", "scope", "global"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
        return [
            a["local"]
            for link in json.loads(out)
            for a in link.get("addr_info", [])
            if a.get("local")
        ]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return []


def primary_ipv4() -> str:
    addrs = _ip_addrs("-4")
    if addrs:
        return addrs[0]
    try:
        ip = socket.gethostbyname(socket.gethostname())
        return ip if not ip.startswith("127.") else "127.0.0.1"
    except OSError:
        return "127.0.0.1"


def default_ipv4() -> str:
    """The address of the interface the default route leaves by (microk8s's
    get_default_ip), so a pod bridge made later never takes its place."""
    try:
        out = subprocess.run(
            ["ip", "-j", "-4", "route", "get", "1.1.1.1"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
        source = json.loads(out)[0].get("prefsrc")
        if source:
            return str(source)
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, IndexError):
        pass
    return primary_ipv4()


def primary_ipv6() -> str | None:
    addrs = [a for a in _ip_addrs("-6") if not a.lower().startswith("fe80")]
    return addrs[0] if addrs else None


def hostname() -> str:
    return socket.gethostname().lower()


def detected_ipv6() -> str | None:
    """The node's IPv6 address found as k0s does for dual-stack: the hostname's address
    from the resolver first, then the interfaces (k0s docs/dual-stack.md)."""
    try:
        found = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET6)
    except OSError:
        found = []
    for *_, sockaddr in found:
        address = str(sockaddr[0])
        if not address.lower().startswith("fe80") and address != "::1":
            return address
    return primary_ipv6()
