"""Every exception the plugin raises, under one base class.

Nothing of the package is imported here, so every layer can raise and catch these.
Catching :class:`K8sDistroError` catches everything the plugin means to report in
words; anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence


class K8sDistroError(Exception):
    """Base of every error the plugin raises on purpose; the message says what to do."""


class ConfigError(K8sDistroError, ValueError):
    """A value the user gave cannot be used.

    Raised below the configuration layer, which turns it into a ``pytest.UsageError``
    naming the option or ini setting the value came from.
    """


class KubeconfigError(ConfigError):
    """A kubeconfig that cannot be used, with what is wrong in words."""


class ExpectFileError(ConfigError):
    """A ``--distro-expect`` file that cannot be used; the message names file and line."""


class UnknownDistro(ConfigError, LookupError):
    """A distribution name that no profile, built-in or added by a plugin, has."""


class ProvisionError(K8sDistroError, RuntimeError):
    """Provisioning failed in a way the user can act on; the message says how."""


class ClusterUnavailable(K8sDistroError):
    """A distribution's cluster could not be had, so the run could not test it.

    Not a verdict about the distribution: its tests are reported as errors that say
    "could not test", never as failures, and reports say "not measured".
    """

    def __init__(self, spec: str, cause: str) -> None:
        self.spec = spec
        self.cause = cause
        first = cause.strip().splitlines()[0] if cause.strip() else "unknown cause"
        super().__init__(f"could not test {spec}: its cluster could not be had: {first[:300]}")


class UpgradeUnsupported(ProvisionError):
    """The provisioner cannot run the distribution's upgrade procedure."""


class ReadinessTimeout(K8sDistroError, TimeoutError):
    """A cluster did not pass its readiness stages in time."""

    def __init__(self, stage: str, missing: str, passed: Sequence[str], logs: str, hint: str):
        self.stage = stage
        self.missing = missing
        self.passed = tuple(passed)
        self.logs = logs
        lines = [
            f"the cluster did not become ready: stage {stage!r} still waits for: {missing}",
            f"stages passed: {', '.join(passed) or 'none'}",
        ]
        if hint:
            lines.append(f"hint: {hint}")
        if logs.strip():
            lines.append("last lines of the node's log:")
            lines.extend("    " + line for line in logs.rstrip().splitlines())
        super().__init__("\n".join(lines))


class NotYet(K8sDistroError):
    """Raised by a wait probe: the condition does not hold yet; ``found`` says what holds."""

    def __init__(self, found: str) -> None:
        super().__init__(found)
        self.found = found


class PollTimeout(K8sDistroError, TimeoutError):
    """A wait ran out of time; ``found`` says what held when it gave up."""

    def __init__(self, found: str) -> None:
        super().__init__(found)
        self.found = found


def report(what: str, *, expected: str, found: str, evidence: str = "") -> str:
    """The three-part message every failed check uses: what, expected, found (+ evidence)."""

    def indent(text: str) -> str:
        return text.strip().replace("\n", "\n            ")

    lines = [what, f"  expected: {indent(expected)}", f"  found:    {indent(found)}"]
    if evidence.strip():
        lines.append("  evidence:")
        lines += [f"    {line}" for line in evidence.rstrip().splitlines()]
    return "\n".join(lines)


class CheckFailed(K8sDistroError, AssertionError):
    """A running cluster did not do what was expected of it: a verdict, reported as a
    test failure with what was expected, what was found and the evidence."""

    def __init__(self, what: str, *, expected: str, found: str, evidence: str = "") -> None:
        super().__init__(report(what, expected=expected, found=found, evidence=evidence))
        self.what = what
        self.expected = expected
        self.found = found
        self.evidence = evidence


class MeasurementError(K8sDistroError, RuntimeError):
    """A figure could not be measured; the message says why."""


class NotMeasurable(MeasurementError):
    """The cluster's nodes cannot be measured from here; the message says why."""


class TierFailed(MeasurementError):
    """A memory tier's workloads did not come up, so its figure would mean nothing."""


class ProbeError(K8sDistroError):
    """A probe got an answer that does not count as the workload being up."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ChartUnavailable(K8sDistroError, RuntimeError):
    """The report's chart cannot be drawn (matplotlib is missing)."""
