"""Where the run is judged (a serial run, or the pytest-xdist controller).

:class:`Controller` records every test's outcome from the reports (its own run's, or
what workers send), works out whether the run can vouch for itself, and at the end
evaluates, gates, writes the report and prints the summary.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from .collection import TORN_DOWN, USED, WORKER_OUTPUT_KEY, Collector, FixtureWatch
from .evidence import OutcomeTracker, decide_gate, evaluate
from .model import ParityError, TestRecord, plural, report_timestamp, utc_today
from .page import PageInfo, write_page
from .summary import GATE_FAILED_EXIT, Line, gate_line, render_plan, render_summary
from .tags import glob_hint

if TYPE_CHECKING:
    from .links import SourceLinks
    from .model import Evidence, FlakyPolicy, GateResult, Registry

#: the UTC date when pytest started (set by the plugin before any conftest is imported)
TODAY_KEY = pytest.StashKey[dt.date]()

#: modes that collect and plan but run no test: their gate is not evaluated, their exit
#: code stays pytest's
_PLAN_ONLY = (
    ("--collect-only", "collectonly"),
    ("--setup-plan", "setupplan"),
    ("--setup-only", "setuponly"),
)


def _reason(report: pytest.TestReport) -> str:
    """Why a report did not pass: the first line of its message, at most 200 characters."""
    longrepr = report.longrepr
    if hasattr(report, "wasxfail"):
        text = f"{'xfailed' if report.skipped else 'xpassed'}: {report.wasxfail}".rstrip(": ")
    elif isinstance(longrepr, tuple):  # a skip: (path, line, "Skipped: why")
        text = str(longrepr[2]).removeprefix("Skipped: ")
    else:  # a failure: the exception's message, as pytest's short summary shows it
        crash = getattr(longrepr, "reprcrash", None)
        text = str(crash.message if crash is not None else longrepr or "")
    first = text.strip().splitlines()[0] if text.strip() else ""
    if report.failed and report.when in ("setup", "teardown"):
        first = f"error in {report.when}: {first}"
    return first[:200]


@dataclass(frozen=True)
class Outputs:
    """The files a run writes its evidence to: the report, and the page with its links."""

    report: str | None = None
    page: str | None = None
    links: SourceLinks | None = None

    def write(
        self, evidence: Evidence, gate: GateResult | None, *, only_existing: bool = False
    ) -> dict[str, str]:
        """Write each output (only those that exist already, with ``only_existing``);
        return why any could not be written. The report and the page say the same time."""
        stamp = report_timestamp()
        errors = {}
        for what, path in (("report", self.report), ("page", self.page)):
            if path is None or (only_existing and not os.path.isfile(path)):
                continue
            try:
                if what == "report":
                    from .report import write_report  # junitparser, imported when needed

                    write_report(path, evidence, gate, timestamp=stamp)
                else:
                    info = PageInfo(stamp.replace(microsecond=0).isoformat(), 1, self.links)
                    write_page(path, evidence, gate, info)
            except ParityError as exc:
                if only_existing:
                    raise
                errors[what] = str(exc)
        return errors


class Controller:
    """Records outcomes, then evaluates, gates, writes and prints."""

    def __init__(
        self,
        config: pytest.Config,
        registry: Registry,
        collector: Collector,
        fixtures: FixtureWatch,
        gate: str | None,
        outputs: Outputs,
        flaky: FlakyPolicy,
    ) -> None:
        self.config = config
        self.registry = registry
        self.collector = collector
        self.fixtures = fixtures
        self.gate = gate
        self.outputs = outputs
        self.flaky: FlakyPolicy = flaky
        self.tracker = OutcomeTracker()
        #: where each test that reported is defined: its file and line (1-based)
        self.locations: dict[str, tuple[str, int | None]] = {}
        # --dist each runs every test on every worker: fold each worker's reports apart
        self.per_worker = config.getoption("dist", "no") == "each"
        #: what pytest-xdist workers told: the tests selected, and tags (workers collect alike)
        self.xdist_selected: set[str] = set()
        self.xdist_tagged: dict[str, TestRecord] | None = None
        self.xdist_crashed = 0
        #: waivers are judged on the date the run started, before any conftest could patch
        #: the clock (a frozen clock leaked by a test suite must not keep a waiver alive)
        self.today = config.stash.get(TODAY_KEY, None) or utc_today()
        self.collection_errors = 0
        self.stopped: str | None = None
        self.evidence: Evidence | None = None
        self.gate_result: GateResult | None = None
        #: why an output could not be written: "report" or "page" -> the error
        self.output_errors: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        worker = getattr(report, "worker_id", "") if self.per_worker else ""
        if report.when == "setup" and report.location is not None:
            path, line, _ = report.location
            self.locations[report.nodeid] = (path, None if line is None else line + 1)
        xfail = hasattr(report, "wasxfail")
        reason = "" if report.passed and not xfail else _reason(report)
        self.tracker.add(
            report.nodeid, report.when, report.outcome, xfail=xfail, worker=worker, reason=reason
        )
        self.tracker.used(report.nodeid, getattr(report, USED, []), worker)
        clean = report.outcome == "passed" and not xfail
        self.tracker.torn_down(getattr(report, TORN_DOWN, []), clean=clean)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors += 1

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Called for Ctrl-C and for ``pytest.exit(...)``, whatever its return code."""
        exc = excinfo.value
        if isinstance(exc, KeyboardInterrupt):  # Ctrl-C, or pytest-xdist stopping early
            self.stopped = f"the run was interrupted ({str(exc) or 'KeyboardInterrupt'})"
        else:
            self.stopped = f"the run was stopped by pytest.exit({str(exc)!r})"

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.xdist_selected.update(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """A worker finished (its ``workeroutput`` came) or crashed (``error``)."""
        output = getattr(node, "workeroutput", {})
        self.xdist_crashed += error is not None
        self.tracker.torn_down(output.get(TORN_DOWN, []), clean=True)
        if WORKER_OUTPUT_KEY in output and self.xdist_tagged is None:
            data = json.loads(output[WORKER_OUTPUT_KEY])
            if data["registry"] != self.registry.sha256():
                self.stopped = (
                    "a pytest-xdist worker read a different registry (it changed during the run)"
                )
            self.xdist_tagged = {row[0]: TestRecord(*row) for row in data["tagged"]}

    def _xdist_gave_up(self) -> bool:
        """pytest-xdist replaces a crashed worker until more have crashed than
        ``--max-worker-restart`` allows (default: 4 per worker process); then it stops."""
        option = self.config.option
        limit = getattr(option, "maxworkerrestart", None)
        if limit is None and getattr(option, "numprocesses", None):
            limit = 4 * option.numprocesses
        return limit is not None and self.xdist_crashed > int(limit)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """An earlier run's report or page must not outlive a run that dies before it
        writes its own: an existing one is replaced by one that says the run did not finish."""
        unfinished = "the run that writes this report did not finish (it may have died)"
        stale = evaluate(self.registry, {}, incomplete=unfinished)
        try:
            self.outputs.write(stale, None, only_existing=True)
        except ParityError as exc:
            raise pytest.UsageError(str(exc)) from None

    def _plan_only(self) -> str | None:
        return next(
            (flag for flag, dest in _PLAN_ONLY if getattr(self.config.option, dest, False)), None
        )

    def _incomplete(
        self, session: pytest.Session, exitstatus: int, selected: list[str]
    ) -> str | None:
        """Why the run cannot vouch for its gate, or None."""
        if (flag := self._plan_only()) is not None:
            return f"{flag}: no test ran"
        if self.collection_errors:
            return f"{plural(self.collection_errors, 'error')} during collection"
        if self.stopped is not None:
            return self.stopped
        if exitstatus in (
            pytest.ExitCode.INTERRUPTED,
            pytest.ExitCode.USAGE_ERROR,
            pytest.ExitCode.INTERNAL_ERROR,
        ):
            code = pytest.ExitCode(exitstatus)
            return f"pytest ended with exit code {int(code)} ({code.name})"
        if not (self.collector.collected or self.xdist_selected):
            return "collection did not finish"
        if session.shouldfail or session.shouldstop:
            return f"the run stopped early ({session.shouldfail or session.shouldstop})"
        if not self.collector.collected and self.xdist_tagged is None:
            return (
                "the parity tags were lost: every pytest-xdist worker died before it "
                "reported its collection"
            )
        if self._xdist_gave_up():
            n = plural(self.xdist_crashed, "crashed worker")
            return f"pytest-xdist gave up after {n} (--max-worker-restart)"
        unreached = sorted(set(selected) - self.tracker.reached())
        if unreached:
            n = plural(len(unreached), "selected test")
            return f"{n} never ran (the run ended before {unreached[0]})"
        return None

    @pytest.hookimpl(trylast=True)  # after every other plugin's and conftest's, and after
    # pytest tore down the last shared fixtures: what they did to the exit code counts
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        option = self.config.option
        if getattr(option, "showfixtures", False) or getattr(
            option, "show_fixtures_per_test", False
        ):
            return  # --fixtures collects but runs nothing: nothing to judge
        if self.collector.collected:
            tagged, selected = self.collector.tagged, self.collector.selected
            self.tracker.torn_down(self.fixtures.torn_down, clean=True)
        else:
            tagged, selected = self.xdist_tagged or {}, sorted(self.xdist_selected)
        records = {}
        for nodeid, record in tagged.items():
            outcome, reason = self.tracker.result(nodeid)
            file, line = self.locations.get(nodeid, (record.file, None))
            records[nodeid] = dataclasses.replace(
                record, outcome=outcome, reason=reason, file=file, line=line
            )
        evidence = evaluate(
            self.registry,
            records,
            flaky=self.flaky,
            today=self.today,
            incomplete=self._incomplete(session, session.exitstatus, selected),
            tags_lost=bool(self.xdist_selected) and self.xdist_tagged is None,
        )
        self.config.hook.pytest_parity_evidence(evidence=evidence)
        self.evidence = evidence
        gate = self.gate_result = None if self.gate is None else decide_gate(evidence, self.gate)
        self.output_errors = self.outputs.write(evidence, gate)
        if self.output_errors and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
        # a gate that failed, or that the run could not vouch for, fails a green run
        green = session.exitstatus == pytest.ExitCode.OK and self._plan_only() is None
        if gate is not None and not gate.passed and green:
            session.exitstatus = GATE_FAILED_EXIT

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.evidence is None:  # a mode that runs no test
            return
        terminalreporter.write_sep("=", "parity")
        verbosity = self.config.get_verbosity()
        # under pytest-xdist the workers collected: they told which tests they selected
        collected = self.collector.collected_ids or sorted(self.xdist_selected)
        hints = {glob: glob_hint(glob, collected) for _, glob in self.evidence.stale_globs}
        if self.config.option.collectonly:
            selected = set(self.collector.selected)
            lines = render_plan(self.evidence, self.collector.by_glob, selected, verbosity, hints)
            lines.append(gate_line(self.gate_result))
        else:
            lines = render_summary(self.evidence, self.gate_result, verbosity, glob_hints=hints)
        for what, path in (("report", self.outputs.report), ("page", self.outputs.page)):
            error = self.output_errors.get(what)
            if error is not None:
                line = Line(f"ERROR: parity {what} not written: {error}", "red")
            elif path is not None:
                line = Line(f"parity {what}: {path}")
            else:
                continue
            lines.insert(-1, line)  # the gate line stays last
        for line in lines:
            terminalreporter.write_line(line.text, **({line.color: True} if line.color else {}))
        gate = self.gate_result
        if gate is not None and not gate.passed:
            # pytest's last line counts it: "5 passed, 1 parity gate failed", never green
            verdict = "not evaluated" if gate.not_evaluated is not None else "failed"
            terminalreporter.stats.setdefault(f"parity gate {verdict}", []).append(gate)
