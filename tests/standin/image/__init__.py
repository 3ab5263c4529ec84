"""Locally built container images that stand in for rancher/k3s and k0sproject/k0s.

No registry is reachable on the development and CI machines, so the project's own tests run
against images built here: a Debian base made with debootstrap, plus one thin image per
distribution and version that copies the simulated control plane (``k8s_standin``) in and
reproduces the real image's contract (entrypoint, command, volumes, paths, environment).

Build everything with ``python tests/standin/image/build.py``; tests use the
``standin_images`` session fixture from ``image.fixtures``.
"""

from __future__ import annotations

from image.specs import STANDINS, StandinImage, StandinImages, StandinSpec

__all__ = ["STANDINS", "StandinImage", "StandinImages", "StandinSpec"]
