"""Versions of distributions: parsing, ordering, minor lines, and what a node reports.

The one place that knows how a version string is shaped. Distributions write their
versions differently (``v1.34.2+abc1``, ``v1.34.2+abc.0``, a snap channel
``1.34/stable``); all of them carry a Kubernetes ``major.minor[.patch]``, which is
what ordering, version ranges and the skew policy work with.
"""

from __future__ import annotations

import re

_VERSION = re.compile(
    r"v?(\d+)\.(\d+)(?:\.(\d+))?"
    r"(?:-(?:rc|alpha|beta)\.?(\d+))?"
    r"(?:\+[a-z0-9]+?\.?(\d+))?"
    r"(?:/(\w+))?"
)
_PRE_RELEASE = re.compile(r"-(rc|alpha|beta)\.?\d+")
#: Pre-releases order before the release, alphas before betas before candidates.
_PRE_RANK = {"alpha": 0, "beta": 1, "rc": 2}


def version_key(version: str) -> tuple[int, ...]:
    """A tuple that orders versions numerically.

    ``v1.34.2+abc1`` > ``v1.34.2-rc1+abc1`` > ``v1.33.10+abc2``; a snap channel
    ``1.33/stable`` orders by its track, as ``1.33.0``. ``ValueError`` when
    ``version`` is not one.
    """
    match = _VERSION.fullmatch(version)
    if match is None:
        raise ValueError(f"{version!r} is not a version")
    major, minor, patch, pre, build, _risk = match.groups()
    pre_kind = _PRE_RELEASE.search(version)
    rank = _PRE_RANK[pre_kind.group(1)] if pre_kind else len(_PRE_RANK)
    return (int(major), int(minor), int(patch or 0), rank, int(pre or 0), int(build or 0))


def minor_of(version: str) -> tuple[int, int]:
    """``(1, 33)`` for ``v1.33.6+abc1`` or ``1.33/stable``."""
    key = version_key(version)
    return key[0], key[1]


def parse_minor(text: str) -> tuple[int, int]:
    """``(1, 35)`` for ``1.35`` or ``v1.35``: the bounds of expectation ranges."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)", text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a minor release such as 1.35")
    return int(match.group(1)), int(match.group(2))


def tag_to_version(tag: str) -> str:
    """``v1.31.4+abc1`` for the image tag ``v1.31.4-abc1``.

    Image tags replace the build-metadata ``+`` with ``-``; only the ``-`` before
    the distribution's own suffix is turned back.
    """
    match = re.fullmatch(r"(v?\d+\.\d+\.\d+(?:-(?:rc|alpha|beta)\.?\d+)?)-([a-z0-9]+\.?\d+)", tag)
    if match is None:
        return tag
    return f"{match.group(1)}+{match.group(2)}"


def version_to_tag(version: str) -> str:
    """The image tag of ``version``: ``+`` is not allowed in a tag."""
    return version.replace("+", "-")


def reports_version(kubelet_version: str, target_version: str) -> bool:
    """Whether a node's ``kubeletVersion`` is ``target_version``.

    Some distributions report their full version (``v1.34.2+abc1``); others drop the
    build number (``v1.34.2+abc`` for ``v1.34.2+abc.0``); a snap channel
    (``1.34/stable``) names only the minor release.
    """
    if kubelet_version == target_version:
        return True
    channel = re.fullmatch(r"v?(\d+\.\d+)(?:/\w+)?", target_version)
    if channel is not None:
        track = channel.group(1)
        return kubelet_version.lstrip("v").startswith(track + ".")
    upstream, _, suffix = kubelet_version.partition("+")
    target_upstream, _, target_suffix = target_version.partition("+")
    return upstream == target_upstream and bool(suffix) and target_suffix.startswith(suffix)
