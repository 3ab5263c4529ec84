"""Hooks that other plugins implement to extend pytest-k8sdistro."""

from __future__ import annotations

from typing import Any


def pytest_k8sdistro_add_provisioners(registry: dict[str, Any]) -> None:
    """Add provisioners to ``registry``: name -> Provisioner subclass or "module:Class"."""
