"""The markers this plugin registers, and what they do to tests."""

from __future__ import annotations

import pytest

from pytest_k8sdistro.distros.profile import FEATURES
from pytest_k8sdistro.distros.registry import known_distros

MARKERS = (
    "distro_feature(*names): run only where the distribution claims every named feature "
    f"({', '.join(FEATURES)}); skipped elsewhere, failed with --distro-strict-features",
    f"distros(*names): run only on the named distributions ({', '.join(known_distros())})",
)


def register(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)


def unclaimed_features(item: pytest.Item, claimed: frozenset[str]) -> list[str]:
    """The features ``item`` needs that the distribution does not claim.

    An unknown feature name fails the test: a typo must not turn into a skip.
    """
    wanted: list[str] = []
    for marker in item.iter_markers("distro_feature"):
        for name in marker.args:
            if name not in FEATURES:
                pytest.fail(
                    f"@pytest.mark.distro_feature({name!r}): unknown feature; "
                    f"known features: {', '.join(FEATURES)}",
                    pytrace=False,
                )
            wanted.append(name)
    return [name for name in wanted if name not in claimed]


def allowed_distros(item: pytest.Item) -> set[str] | None:
    """The distributions ``item`` is limited to, or ``None`` when it runs on all."""
    allowed: set[str] | None = None
    for marker in item.iter_markers("distros"):
        unknown = [name for name in marker.args if name not in known_distros()]
        if unknown:
            pytest.fail(
                f"@pytest.mark.distros: unknown distribution(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(known_distros())}",
                pytrace=False,
            )
        names = set(marker.args)
        allowed = names if allowed is None else allowed & names
    return allowed
