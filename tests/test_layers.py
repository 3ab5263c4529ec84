"""The package's shape: every module imports on its own, and the facts of a
distribution or a provisioner live only in its own home.

The one-way layers themselves are import-linter's contract in pyproject.toml,
checked by ``lint-imports`` in .ci/run.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tokenize
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pytest_k8sdistro.distros.registry import BUILTIN as DISTROS
from pytest_k8sdistro.provisioners.registry import BUILTIN as PROVISIONERS

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_k8sdistro"


def modules(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append(".".join(parts))
    return found


def test_every_module_imports_on_its_own_with_an_empty_package_init(tmp_path: Path) -> None:
    copy = tmp_path / "pytest_k8sdistro"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "__init__.py").write_text("")
    names = modules(copy)
    assert len(names) > 50

    def load(name: str) -> tuple[str, int, str]:
        done = subprocess.run(
            [sys.executable, "-c", f"import {name}"],
            cwd=tmp_path,
            env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        last = done.stderr.strip().splitlines()[-1:]
        return name, done.returncode, last[0] if last else ""

    with ThreadPoolExecutor(max_workers=4) as pool:
        failed = [(n, err) for n, rc, err in pool.map(load, names) if rc != 0]
    assert failed == []


def _code_tokens(path: Path, *, identifiers: bool) -> list[tuple[int, str]]:
    """String literals (and with ``identifiers``, names) of ``path``, without comments
    and docstrings."""
    kinds = {tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)}
    if identifiers:
        kinds.add(tokenize.NAME)
    found: list[tuple[int, str]] = []
    previous = tokenize.NEWLINE
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    for token in tokens:
        if token.type == tokenize.STRING and previous in (
            tokenize.NEWLINE,
            tokenize.NL,
            tokenize.INDENT,
            tokenize.DEDENT,
        ):
            previous = token.type
            continue  # a docstring (or a bare string statement): prose
        # Python 3.12 splits f-strings into parts; 3.11 keeps each one STRING.
        if token.type in kinds:
            found.append((token.start[0], token.string))
        if token.type not in (tokenize.COMMENT, tokenize.NL):
            previous = token.type
    return found


def _uses(home: str, names: tuple[str, ...], *, words: bool) -> list[str]:
    """Places outside ``home`` where code names one of ``names``.

    A string that is a name, or a path or identifier containing a distribution's name,
    is a decision or a fact; prose in messages is not (``words``: message text with a
    space in it may name them, as help built from the registries does).
    """
    places = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(home):
            continue
        for line, text in _code_tokens(path, identifiers=not words):
            value = text.strip("'\"")
            # Names are lower case; "Host" (the HTTP header) is another word.
            value = value.lower() if not words else value
            for name in names:
                if value == name or (not words and name in value and " " not in value):
                    places.append(f"{relative}:{line}: {text}")
    return places


def test_no_distribution_is_named_outside_the_distributions_home() -> None:
    assert _uses("distros/", tuple(DISTROS), words=False) == []


def test_no_provisioner_is_named_outside_the_provisioners_home() -> None:
    # Only strings that are a whole name: "host" and "ssh" are also ordinary words,
    # variable names and URL schemes.
    assert _uses("provisioners/", tuple(PROVISIONERS), words=True) == []


def test_comments_and_docstrings_do_not_name_distributions_either() -> None:
    # What grep sees: the prose outside distros/ speaks of distributions in general.
    hits = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if not path.relative_to(PACKAGE).as_posix().startswith("distros/")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any(name in line.lower() for name in (*DISTROS, "rancher"))
    ]
    assert hits == []
