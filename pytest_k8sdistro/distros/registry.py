"""The registry of distribution profiles: the built-in ones, imported on first use,
and those other plugins add with the ``pytest_k8sdistro_add_distros`` hook.

Profiles are looked up by name everywhere else, so a distribution a plugin adds
gets the same validation, parametrization, measurements and report rows as ours.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from pytest_k8sdistro.distros.profile import DistroProfile
from pytest_k8sdistro.errors import UnknownDistro

#: name -> "module:ATTRIBUTE" of its profile.
BUILTIN: dict[str, str] = {
    "k3s": "pytest_k8sdistro.distros.k3s:PROFILE",
    "k0s": "pytest_k8sdistro.distros.k0s:PROFILE",
    "microk8s": "pytest_k8sdistro.distros.microk8s:PROFILE",
}

_added: dict[str, DistroProfile | str] = {}
_loaded: dict[str, DistroProfile] = {}


def set_added(added: Mapping[str, DistroProfile | str]) -> None:
    """Make ``added`` (what plugins contributed for this run) the extra profiles.

    Called once per pytest configuration; a later call replaces the earlier set, so
    an in-process run (pytester) never sees another run's plugins.
    """
    _added.clear()
    _added.update({name: ref for name, ref in added.items() if name not in BUILTIN})
    for name in list(_loaded):
        if name not in BUILTIN:
            del _loaded[name]


def known_distros() -> tuple[str, ...]:
    return (*BUILTIN, *(name for name in _added if name not in BUILTIN))


def get_profile(name: str) -> DistroProfile:
    """The profile called ``name``; :class:`UnknownDistro` when there is none."""
    if name in _loaded:
        return _loaded[name]
    ref = BUILTIN.get(name) or _added.get(name)
    if ref is None:
        raise UnknownDistro(
            f"unknown distribution {name!r}; known distributions: {', '.join(known_distros())}"
        )
    profile = _load(ref) if isinstance(ref, str) else ref
    if not isinstance(profile, DistroProfile) or profile.name != name:
        raise UnknownDistro(
            f"the distribution registered as {name!r} ({ref!r}) is not a DistroProfile "
            f"named {name!r}"
        )
    _loaded[name] = profile
    return profile


def _load(ref: str) -> object:
    module_name, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module_name), attribute or "PROFILE")
