"""One command on QEMU's control socket (QMP): greeting, capabilities, the command."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any


def execute(path: Path, command: str, timeout: float = 10.0) -> dict[str, Any]:
    """Run ``command`` (``system_powerdown``, ``quit``) and return QEMU's reply."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        stream = sock.makefile("rw", encoding="utf-8")
        json.loads(stream.readline())  # the greeting
        reply: dict[str, Any] = {}
        for name in ("qmp_capabilities", command):
            stream.write(json.dumps({"execute": name}) + "\n")
            stream.flush()
            while True:
                line = stream.readline()
                if not line:  # "quit" may close the socket before its reply arrives
                    return reply
                reply = json.loads(line)
                if "event" not in reply:  # events arrive between commands and replies
                    break
        return reply
