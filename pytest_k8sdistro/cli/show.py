"""``k8sdistro show DISTRO[:VERSION] [--provisioner=P] [--json]``: what the plugin
believes about a distribution at a version, without starting anything.

It prints the image, how a node starts (the exact container options) or installs
(the commands on a machine), the readiness stages, the expectations in force at that
version with the upstream sources they come from, the thresholds and the upgrade
procedure. Vendors read it to write their ``--distro-expect`` overrides; reviewers
read it to check a fact against upstream without reading code.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from pytest_k8sdistro.distros.profile import EXPECTATION_FIELDS, DistroProfile
from pytest_k8sdistro.distros.spec import DistroSpec, parse_distro
from pytest_k8sdistro.errors import ConfigError
from pytest_k8sdistro.provisioners import registry as provisioners
from pytest_k8sdistro.provisioners.base import ProvisionerConfig


def facts(spec: DistroSpec, provisioner: str | None) -> dict[str, Any]:
    """Everything the plugin believes about ``spec``, as JSON-ready data."""
    profile = spec.profile
    expectations = profile.expectations_at(spec.version)
    data: dict[str, Any] = {
        "distro": spec.name,
        "version": spec.version,
        "default_version": profile.default_version,
        "image": profile.image(spec.version),
        "expectations": {name: _plain(getattr(expectations, name)) for name in EXPECTATION_FIELDS},
        "expectation_sources": {
            name: profile.source_of(name, spec.version) for name in EXPECTATION_FIELDS
        },
        "by_version": [
            {
                "applies": change.describe(),
                "applies_here": change.covers(spec.version),
                "changes": {k: _plain(v) for k, v in change.changes.items()},
                "source": change.source,
            }
            for change in profile.by_version
        ],
        "sources": list(profile.sources),
        "unconfirmed": list(profile.unconfirmed),
        "readiness": _readiness(profile),
        "upgrade": {
            "method": profile.upgrade.method,
            "procedure": profile.upgrade.summary,
            "source": profile.upgrade.source,
            # In a container: every path copied from the target's image.
            "replaces": list(profile.container.upgrade_paths) if profile.container else [],
        },
        "kubeconfig": _plain(dataclasses.asdict(profile.kubeconfig)),
        "runs_in": [
            where
            for where, able in (
                ("container", profile.container is not None),
                ("machine", profile.machine is not None),
            )
            if able
        ],
    }
    if profile.addons is not None:
        data["addons"] = list(profile.addons.known)
    if provisioner is not None:
        cls = provisioners.load(provisioners.BUILTIN[provisioner])
        if not cls.CAPABILITIES.runs(profile):
            raise ConfigError(f"--provisioner={provisioner} cannot bring {spec.name} up")
        data["provisioner"] = provisioner
        data.update(_plain(cls.describe_start(spec, ProvisionerConfig())))
    return data


def _readiness(profile: DistroProfile) -> list[str]:
    stages = [f"log line {profile.readiness.log_line!r}"] if profile.readiness.log_line else []
    stages += ["API /readyz", "every node Ready"]
    stages += [f"Deployment {name} available" for name in profile.readiness.deployments]
    stages.append("default ServiceAccount")
    return stages


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists, for JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def render(data: dict[str, Any]) -> str:
    """The facts as text a person reads."""
    lines = [f"{data['distro']} {data['version']} (default {data['default_version']})"]
    lines.append(f"  image:            {data['image'] or 'none'}")
    lines.append(f"  runs in:          {', '.join(data['runs_in'])}")
    lines.append(f"  kubeconfig:       {data['kubeconfig']}")
    lines.append("  readiness:        " + " -> ".join(data["readiness"]))
    lines.append(
        f"  upgrade:          {data['upgrade']['procedure']} ({data['upgrade']['source']})"
    )
    if data["upgrade"]["replaces"]:
        lines.append(
            f"  upgrade replaces: {', '.join(data['upgrade']['replaces'])} (in a container)"
        )
    lines.append("  expectations (as --distro-expect names them):")
    width = max(len(name) for name in data["expectations"])
    for name, value in data["expectations"].items():
        source = data["expectation_sources"].get(name) or "no source"
        lines.append(f"    {name:<{width}}  {json.dumps(value)}  [{source}]")
    for change in data["by_version"]:
        here = "applies" if change["applies_here"] else "does not apply"
        lines.append(
            f"  from versions {change['applies']} ({here} here): "
            f"{json.dumps(change['changes'])}  [{change['source']}]"
        )
    if data.get("addons"):
        lines.append(f"  addons:           {', '.join(data['addons'])}")
    lines.append("  sources:")
    lines += [f"    {source}" for source in data["sources"]]
    if data["unconfirmed"]:
        lines.append("  unconfirmed upstream:")
        lines += [f"    {fact}" for fact in data["unconfirmed"]]
    if "container" in data:
        lines.append(f"  {data['provisioner']}: the server container would be created with:")
        for key, value in data["container"].items():
            if key == "entrypoint":
                # The in-container supervisor's script is long; --json has it whole.
                value = [part if len(part) < 80 else "<supervisor script>" for part in value]
            lines.append(f"    {key}: {json.dumps(value)}")
    if "install" in data:
        lines.append(f"  {data['provisioner']}: the install runs, as root:")
        lines += [f"    {command}" for command in data["install"]]
        lines.append(f"  kubeconfig from:  {data['kubeconfig_command']}")
        lines.append("  removed with:")
        lines += [f"    {command}" for command in data["uninstall"]]
    if "join" in data:
        token = data["join_token_command"]
        lines.append(f"  agents (--distro-nodes): the token from '{token}', then:")
        lines += [f"    {command}" for command in data["join"]]
    return "\n".join(lines)


def render_markdown(data: dict[str, Any]) -> str:
    """The expectations of one version as a Markdown section: value and source each,
    then what upstream could not confirm (docs/distros.md is made of these)."""
    lines = [
        f"### {data['distro']} {data['version']}",
        "",
        f"Image: {'`' + data['image'] + '`' if data['image'] else 'none'}. "
        f"Upgrade: {data['upgrade']['procedure']}.",
        "",
        "| Expectation | Value | Source |",
        "| --- | --- | --- |",
    ]
    for name, value in data["expectations"].items():
        source = (data["expectation_sources"].get(name) or "no source").replace("|", "\\|")
        lines.append(f"| `{name}` | `{json.dumps(value)}` | {source} |")
    if data["unconfirmed"]:
        lines += ["", "Unconfirmed upstream:", ""]
        lines += [f"- {fact}" for fact in data["unconfirmed"]]
    return "\n".join(lines) + "\n"


def add_parser(commands: Any) -> None:
    show = commands.add_parser(
        "show", help="what the plugin believes about a distribution at a version"
    )
    show.add_argument("distro", metavar="DISTRO[:VERSION]")
    show.add_argument(
        "--provisioner",
        choices=sorted(provisioners.BUILTIN),
        help="also show what this provisioner would run to bring it up",
    )
    output = show.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument(
        "--markdown", action="store_true", help="print the expectations as a Markdown section"
    )


def main(args: argparse.Namespace) -> int:
    try:
        data = facts(parse_distro(args.distro), args.provisioner)
    except ConfigError as exc:
        print(f"k8sdistro show: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(render_markdown(data) if args.markdown else render(data))
    return 0


__all__ = ["facts", "main", "render", "render_markdown"]
