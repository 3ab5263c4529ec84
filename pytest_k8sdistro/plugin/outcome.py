"""How a run ends: "a distribution failed a check" apart from "the run could not test it".

Exit status of a run (pytest's own codes, plus one):

- 0: every test passed (or was skipped);
- 1: a test failed: a distribution did not do what was expected of it (or a test
  errored for another reason);
- 4: a usage error, before anything started;
- 5: no test was collected;
- 6 (:data:`COULD_NOT_TEST`): no test failed, but the run could not test one or
  more distributions (their cluster could not be had: image, engine, machine,
  readiness). Nothing is claimed about them.

The cause of each cluster that could not be had is printed once, at the end.
"""

from __future__ import annotations

import pytest

#: The user property on a test report whose cluster could not be had: [spec, cause].
NOT_TESTED = "k8sdistro.not_tested"
COULD_NOT_TEST = 6


def not_tested(report: pytest.TestReport) -> tuple[str, str] | None:
    """(spec, cause) when ``report`` is of a test whose cluster could not be had."""
    for name, value in report.user_properties:
        if name == NOT_TESTED and isinstance(value, (list, tuple)) and len(value) == 2:
            return str(value[0]), str(value[1])
    return None


class RunOutcome:
    """Registered in the process that controls the run (xdist's controller)."""

    def __init__(self) -> None:
        self.causes: dict[str, str] = {}
        self.tests: dict[str, set[str]] = {}
        self.other_failures = 0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        found = not_tested(report)
        if found is not None:
            spec, cause = found
            self.causes.setdefault(spec, cause)
            self.tests.setdefault(spec, set()).add(report.nodeid)
        elif report.failed:
            self.other_failures += 1

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.causes:
            return
        terminalreporter.section("k8sdistro: distributions this run could not test", sep="=")
        for spec, cause in self.causes.items():
            count = len(self.tests.get(spec, ()))
            terminalreporter.line(
                f"{spec}: its cluster could not be had, so its {count} test(s) did not run; "
                "nothing is claimed about it. The cause:"
            )
            for line in cause.rstrip().splitlines():
                terminalreporter.line(f"    {line}")
        terminalreporter.line(
            f"(exit status {COULD_NOT_TEST} when nothing else failed: the run could not test, "
            "which is not a failure of the distribution)"
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.causes and not self.other_failures and exitstatus == pytest.ExitCode.TESTS_FAILED:
            session.exitstatus = COULD_NOT_TEST
