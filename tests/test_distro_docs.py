"""docs/distros.md and the workflow agree with the profiles, line by line.

Every version line the distributions workflow runs has a section in docs/distros.md,
made by ``k8sdistro show DISTRO:VERSION --markdown``: each expectation with its
upstream source, and what upstream did not confirm. A profile change that is not in
the docs fails here; ``K8SDISTRO_UPDATE_DOCS=1 pytest tests/test_distro_docs.py``
rewrites the block.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from pytest_k8sdistro.cli.show import facts, render_markdown
from pytest_k8sdistro.distros.profile import EXPECTATION_FIELDS
from pytest_k8sdistro.distros.registry import get_profile
from pytest_k8sdistro.distros.spec import parse_distro
from pytest_k8sdistro.model import versions

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "distros.yml"
DOCS = ROOT / "docs" / "distros.md"
BEGIN = "<!-- expectations by version line: made by k8sdistro show --markdown -->"
END = "<!-- end of expectations by version line -->"


def matrix() -> list[dict[str, Any]]:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]["distro"]["strategy"]["matrix"]
    return list(jobs["include"])


def block() -> str:
    sections = [
        render_markdown(facts(parse_distro(f"{job['distro']}:{job['version']}"), None))
        for job in matrix()
    ]
    return BEGIN + "\n\n" + "\n".join(sections) + "\n" + END


def test_every_workflow_line_is_shown_by_the_installed_command() -> None:
    # The console script, as a user runs it; its JSON is what vendors read.
    script = Path(sys.executable).parent / "k8sdistro"
    command = (
        [str(script)] if script.exists() else [sys.executable, "-m", "pytest_k8sdistro.cli.main"]
    )
    for job in matrix():
        out = subprocess.run(
            [*command, "show", f"{job['distro']}:{job['version']}", "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        data = json.loads(out)
        assert data["distro"] == job["distro"] and data["version"] == job["version"]
        assert set(data["expectations"]) == set(EXPECTATION_FIELDS)
        # The image the workflow pulls is the one the plugin would start.
        assert (data["image"] or "") == job["image"], job["id"]
        assert all(data["expectation_sources"].values()), job["id"]


def test_each_upgrade_goes_to_a_newer_release() -> None:
    for job in matrix():
        if job["upgrade_to"]:
            assert versions.version_key(job["upgrade_to"]) > versions.version_key(job["version"]), (
                job["id"]
            )
            assert get_profile(job["distro"]).normalise_version(job["upgrade_to"]), job["id"]


def test_the_workflow_covers_each_default_version() -> None:
    lines = {(job["distro"], job["version"]) for job in matrix()}
    for name in ("k3s", "k0s", "microk8s"):
        assert (name, get_profile(name).default_version) in lines


def test_every_expectation_of_every_profile_has_a_source() -> None:
    for name in ("k3s", "k0s", "microk8s"):
        profile = get_profile(name)
        missing = [
            field
            for field in EXPECTATION_FIELDS
            if not profile.source_of(field, profile.default_version)
        ]
        assert not missing, f"{name}: {missing}"


def test_docs_list_every_line_with_its_sources() -> None:
    text = DOCS.read_text()
    expected = block()
    if os.environ.get("K8SDISTRO_UPDATE_DOCS"):
        if BEGIN in text:
            text = re.sub(
                re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: expected, text, flags=re.S
            )
        else:
            text = text.rstrip() + "\n\n" + expected + "\n"
        DOCS.write_text(text)
    assert expected in DOCS.read_text(), (
        "docs/distros.md is behind the profiles; "
        "rewrite it with K8SDISTRO_UPDATE_DOCS=1 pytest tests/test_distro_docs.py"
    )
