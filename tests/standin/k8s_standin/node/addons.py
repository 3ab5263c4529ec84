"""Add-on controllers per flavour (placeholder)."""

from __future__ import annotations

from collections.abc import Callable

from ..config import NodeConfig
from .client import Client


def controllers(client: Client, config: NodeConfig) -> list[tuple[str, Callable[[], None]]]:
    return []
