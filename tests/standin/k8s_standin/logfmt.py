"""logrus-style log lines, the format both k3s and k0s write to stderr."""

from __future__ import annotations

import datetime as dt
import logging
import sys


class LogrusFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC)
        level = {"WARNING": "warning", "CRITICAL": "fatal"}.get(
            record.levelname, record.levelname.lower()
        )
        msg = record.getMessage().replace('"', '\\"')
        line = f'time="{when.strftime("%Y-%m-%dT%H:%M:%SZ")}" level={level} msg="{msg}"'
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup(debug: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogrusFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
