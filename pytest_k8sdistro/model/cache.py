"""What the plugin remembers between runs on this machine, and where.

Only answers that are costly to learn and cannot change without the thing they
describe changing too are kept (the privileges an engine grants, keyed by that
engine's identity and configuration). Delete the directory to forget them all.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

#: Overrides where the cache lives (tests, read-only homes).
CACHE_ENV = "K8SDISTRO_CACHE_DIR"


def cache_dir() -> Path:
    """``$K8SDISTRO_CACHE_DIR``, else ``$XDG_CACHE_HOME/pytest-k8sdistro``, else
    ``~/.cache/pytest-k8sdistro``."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pytest-k8sdistro"


def read(section: str, key: str, *, max_age_s: float) -> dict[str, Any] | None:
    """The entry ``key`` of ``section`` written less than ``max_age_s`` ago, or None."""
    path = cache_dir() / section / f"{key}.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        if time.time() - float(data["written_at"]) > max_age_s:
            return None
        value: dict[str, Any] = data["value"]
        return value
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent, unreadable or from another format: learn it again


def write(section: str, key: str, value: dict[str, Any]) -> None:
    """Remember ``value``; never fails a run (a read-only home just remembers nothing)."""
    directory = cache_dir() / section
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{key}.", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump({"written_at": time.time(), "value": value}, handle)
        # Atomic: concurrent runs each see a whole entry, the older or the newer.
        os.replace(temporary, directory / f"{key}.json")
    except OSError:
        return


def forget(section: str) -> None:
    """Drop every entry of ``section``."""
    directory = cache_dir() / section
    for path in directory.glob("*.json") if directory.is_dir() else ():
        path.unlink(missing_ok=True)
