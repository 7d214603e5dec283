"""The pytest adapter: options, the ``parity`` marker, and the run's evidence.

Kept thin: everything that decides lives in the pure core (registry, evidence, report,
summary). With no registry and no ``parity`` marker the plugin is dormant.

Three plugin objects, one job each. Where tests are collected and run (a serial run, or
each pytest-xdist worker), a :class:`Collector` tags the collected tests and a
:class:`FixtureWatch` follows the shared fixtures they use. Where the run is judged (a
serial run, or the xdist controller), a :class:`Controller` records every test's outcome,
evaluates, prints and writes. A worker sends its tags to the controller when it finishes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .model import FLAKY_POLICIES, ParityError
from .registry import GlobMatcher, check_registry, did_you_mean, find_registry, load_registry

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .model import Evidence, FlakyPolicy, GateResult, Registry

MARKER_HELP = (
    "parity(*invariant_ids, milestone=None): this test proves the named invariants "
    "declared in the pytest-parity registry; milestone= tags it as part of that "
    "milestone's gate suite."
)

#: the run's plugin objects, in config.stash while the run lasts
_PLUGINS_KEY = pytest.StashKey[list[object]]()

#: key in xdist's ``workeroutput`` that carries a worker's tags to the controller
_WORKER_OUTPUT_KEY = "pytest_parity.tagged"

#: the ``TestReport`` attribute that names the tests a failed shared-fixture teardown fails
_CHARGED = "parity_charged"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("parity", "pytest-parity: CI-gated invariant proofs")
    group.addoption(
        "--parity-registry",
        dest="parity_registry",
        metavar="PATH",
        default=None,
        help="registry of declared invariants (TOML). Write it as --parity-registry=PATH. "
        "Default: ini parity_registry, else parity.toml or [tool.parity] in pyproject.toml "
        "in the rootdir.",
    )
    group.addoption(
        "--parity-gate",
        dest="parity_gate",
        metavar="SCOPE",
        default=None,
        help="fail the run unless every invariant in scope is proven or waived. SCOPE is "
        "'all' or a milestone M (every milestone up to and including M). Ini: parity_gate.",
    )
    group.addoption(
        "--parity-report",
        dest="parity_report",
        metavar="PATH",
        default=None,
        help="write the JUnit-XML evidence report to PATH. Ini: parity_report.",
    )
    group.addoption(
        "--parity-flaky",
        dest="parity_flaky",
        choices=("fail", "allow"),
        default=None,
        help="whether a test that passed only on a rerun may prove an invariant "
        "(default: fail). Ini: parity_flaky.",
    )
    parser.addini("parity_registry", "pytest-parity registry path (relative to the rootdir)")
    parser.addini("parity_gate", "pytest-parity gate scope: 'all' or a milestone")
    parser.addini("parity_report", "pytest-parity evidence report path (relative to the rootdir)")
    parser.addini("parity_flaky", "pytest-parity flaky policy: 'fail' (default) or 'allow'")


def _ini(config: pytest.Config, name: str) -> str | None:
    value = config.getini(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _setting(config: pytest.Config, name: str) -> str | None:
    """A command-line option, else its ini twin, else None (empty ini values count as unset)."""
    value: str | None = config.getoption(name)
    return _ini(config, name) if value is None else value


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    try:
        path = find_registry(
            config.rootpath, config.getoption("parity_registry"), _ini(config, "parity_registry")
        )
        if path is None:
            for name, flag in (
                ("parity_gate", "--parity-gate"),
                ("parity_report", "--parity-report"),
            ):
                if _setting(config, name) is not None:
                    raise ParityError(
                        f"{flag} (or ini {name}) is set but no pytest-parity registry was found: "
                        "add parity.toml or [tool.parity] to pyproject.toml in the rootdir "
                        f"({config.rootpath}), or pass --parity-registry=PATH"
                    )
            plugins: list[object] = [_DormantGuard()]
        else:
            plugins = _active_plugins(config, path)
    except ParityError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_PLUGINS_KEY] = plugins
    for plugin in plugins:
        config.pluginmanager.register(plugin)


def pytest_unconfigure(config: pytest.Config) -> None:
    for plugin in config.stash.get(_PLUGINS_KEY, []):
        config.pluginmanager.unregister(plugin)
    config.stash[_PLUGINS_KEY] = []


def _active_plugins(config: pytest.Config, path: Path) -> list[object]:
    """The plugin objects of a run with a registry (raises ParityError on bad settings)."""
    registry = load_registry(path)
    config.hook.pytest_parity_registry_loaded(registry=registry)
    registry = check_registry(registry)
    collector = Collector(config, registry)
    if _is_worker(config):
        return [collector, FixtureWatch()]
    gate = _setting(config, "parity_gate")
    if gate is not None:
        registry.scope(gate)  # validates: 'all' or a declared milestone
    flaky_setting = _setting(config, "parity_flaky") or "fail"
    if flaky_setting not in FLAKY_POLICIES:
        raise ParityError(
            f"parity_flaky: {flaky_setting!r} is not one of {', '.join(FLAKY_POLICIES)}"
        )
    flaky: FlakyPolicy = "allow" if flaky_setting == "allow" else "fail"
    report = _setting(config, "parity_report")
    if report is not None:
        if config.getoption("parity_report") is None:  # the ini value is rootdir-relative
            report = str(config.rootpath / report)
        if os.path.isdir(report):
            raise ParityError(f"--parity-report: {report} is a directory")
        junitxml = config.getoption("xmlpath", None)
        if junitxml and os.path.realpath(junitxml) == os.path.realpath(report):
            raise ParityError(
                f"--parity-report: {report} is also the --junitxml path: one would "
                "overwrite the other; give them different paths"
            )
    controller = Controller(config, registry, collector, gate, report, flaky)
    return [collector, FixtureWatch(), controller]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the invariant IDs and milestones into the tests' keywords, for ``-k``.

    A plain hook of this module, so it runs after the conftests' own (they may add
    ``parity`` markers) and before pytest's ``-k`` deselection. Only ``-k`` reads them.
    """
    if not config.getoption("keyword"):
        return
    for plugin in config.stash.get(_PLUGINS_KEY, []):
        if isinstance(plugin, Collector):
            plugin.add_keywords(items)


def _fail_collection(session: pytest.Session, errors: list[tuple[pytest.Item, str]]) -> None:
    """Fail the run before any test runs, cleanly, serially and under pytest-xdist.

    A ``pytest.UsageError`` raised in an xdist worker's collection becomes INTERNALERROR, so
    bad markers become collection errors instead (one per offending test, naming it). A
    serial run stops with "Interrupted: N errors during collection" (exit code 2); under
    pytest-xdist the controller reports the workers' collection errors (exit code 1).
    Either way nothing runs.
    """
    for item, message in errors:
        report = pytest.CollectReport(
            nodeid=item.nodeid, outcome="failed", longrepr=f"{item.nodeid}: {message}", result=[]
        )
        session.config.hook.pytest_collectreport(report=report)
    session.items.clear()  # nothing may run, and an xdist worker reports no test


class _DormantGuard:
    """No registry: the only job is to refuse ``parity`` markers (they could prove nothing)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        message = (
            "@pytest.mark.parity is used but no pytest-parity registry was found (add "
            f"parity.toml or [tool.parity] to pyproject.toml in {session.config.rootpath}, "
            "or pass --parity-registry=PATH)"
        )
        errors = [(item, message) for item in session.items if item.get_closest_marker("parity")]
        if errors:
            _fail_collection(session, errors)


class _BadMarker(Exception):
    pass


#: a test's parity tag: (sorted invariant IDs, sorted ``milestone=`` tags)
_Tag = tuple[tuple[str, ...], tuple[str, ...]]


class Collector:
    """Tags the collected tests with the invariants they name (markers and ``tests`` globs).

    Tags are settled once collection is finished, after every plugin's and conftest's
    ``pytest_collection_modifyitems`` (markers they add count) and after deselection (a
    deselected test still names its invariants: they are not-run, not missing).
    """

    def __init__(self, config: pytest.Config, registry: Registry) -> None:
        self.config = config
        self.registry = registry
        self.matcher = GlobMatcher(registry)
        self._milestones = registry.milestone_ids()
        #: node ID -> its tag, for every tagged collected test (selected or deselected)
        self.tagged: dict[str, _Tag] = {}
        #: node IDs of the tests selected to run
        self.selected: list[str] = []
        #: whether collection finished here (it does not in an xdist controller)
        self.collected = False
        self._deselected: list[pytest.Item] = []

    def tag(self, item: pytest.Item) -> _Tag | None:
        """The tag of ``item`` from all its ``parity`` markers and the registry's globs."""
        invariants: set[str] = set(self.matcher.match(item.nodeid))
        milestones: set[str] = set()
        for mark in item.iter_markers("parity"):
            ids, milestone = self._parse(mark)
            invariants.update(ids)
            if milestone is not None:
                milestones.add(milestone)
        if not invariants and not milestones:
            return None
        return tuple(sorted(invariants)), tuple(sorted(milestones))

    def _parse(self, mark: pytest.Mark) -> tuple[list[str], str | None]:
        """The invariant IDs and the ``milestone=`` of one marker, validated."""
        registry = self.registry
        for arg in mark.args:
            if not isinstance(arg, str) or not arg.strip():
                raise _BadMarker(
                    f"@pytest.mark.parity: invariant IDs must be non-empty strings, got {arg!r}"
                )
            if arg not in registry.invariants:
                raise _BadMarker(
                    f"@pytest.mark.parity: unknown invariant ID {arg!r}"
                    f"{did_you_mean(arg, registry.invariants)} (registry: {registry.source})"
                )
        for name, value in mark.kwargs.items():
            if name != "milestone":
                raise _BadMarker(
                    f"@pytest.mark.parity: unknown keyword argument {name}={value!r} "
                    "(the only keyword is milestone=)"
                )
        milestone = mark.kwargs.get("milestone")
        declared = self._milestones
        if milestone is not None and (not isinstance(milestone, str) or milestone not in declared):
            raise _BadMarker(
                f"@pytest.mark.parity: milestone={milestone!r} is not a declared milestone "
                f"(declared: {', '.join(declared)}){did_you_mean(str(milestone), declared)}"
            )
        if not mark.args and milestone is None:
            raise _BadMarker("@pytest.mark.parity needs at least one invariant ID or milestone=")
        return list(mark.args), milestone

    def add_keywords(self, items: Iterable[pytest.Item]) -> None:
        """Each test's invariant IDs and milestones (its own and its invariants') as
        keywords, so that ``-k RUNKEY-01`` and ``-k M1`` select by them. A bad marker is
        left for :meth:`pytest_collection_finish` to report."""
        milestone_of = {inv.id: inv.milestone for inv in self.registry.invariants.values()}
        for item in items:
            try:
                tag = self.tag(item)
            except _BadMarker:
                continue
            if tag is not None:
                invariants, milestones = tag
                item.extra_keyword_matches.update(
                    {*invariants, *milestones, *(milestone_of[i] for i in invariants)}
                )

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self._deselected.extend(items)

    @pytest.hookimpl(tryfirst=True)  # before pytest-xdist's worker sends its collection
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        errors: list[tuple[pytest.Item, str]] = []
        for item in [*session.items, *self._deselected]:
            try:
                tag = self.tag(item)
            except _BadMarker as exc:
                errors.append((item, str(exc)))
                continue
            if tag is not None:
                self.tagged[item.nodeid] = tag
        self._deselected = []
        self.collected = True
        if errors:
            self.tagged = {}
            _fail_collection(session, errors)
        self.selected = [item.nodeid for item in session.items]
        if _is_worker(self.config):
            # one JSON string: execnet sends a str in one piece, a big dict object by object
            self.config.workeroutput[_WORKER_OUTPUT_KEY] = json.dumps(  # type: ignore[attr-defined]
                sorted(self.tagged.items())
            )


class FixtureWatch:
    """Charges a failed teardown of a shared fixture to every test that used it.

    pytest reports a class-, module-, package- or session-scoped fixture's teardown error
    on whichever test happened to run last before it was torn down; every test that used
    that fixture instance is just as unproven. So this object remembers, per live shared
    fixture instance, the tests that used it (those whose fixture closure names it, and
    the one that set it up), and when a test's report fails while shared fixtures were
    torn down in that phase, it names all their users in that report (the report carries them
    to the controller, also from a pytest-xdist worker). pytest does not say which of the
    fixtures torn down at once failed, so the users of each of them are charged.
    """

    def __init__(self) -> None:
        #: live shared fixture instances: fixturedef -> the node IDs of their users
        self._live: dict[Any, set[str]] = {}
        #: the users of the shared fixture instances torn down since the last report
        self._torn_down: list[tuple[str, set[str]]] = []
        self._running: str | None = None

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._running = nodeid

    def pytest_fixture_setup(self, fixturedef: Any) -> None:
        if fixturedef.scope != "function":
            self._live[fixturedef] = {self._running} if self._running else set()

    def pytest_fixture_post_finalizer(self, fixturedef: Any) -> None:
        users = self._live.pop(fixturedef, None)
        if users is not None:
            self._torn_down.append((fixturedef.argname, users))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        names = set(getattr(item, "fixturenames", ()))
        for fixturedef, users in self._live.items():
            if fixturedef.argname in names:
                users.add(item.nodeid)

    @pytest.hookimpl(tryfirst=True)  # before pytest-xdist's worker sends the report
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # shared fixtures are torn down in a test's teardown, or in the next test's setup
        # when a parametrized one changes its parameter
        torn_down, self._torn_down = self._torn_down, []
        if report.failed and torn_down:
            charged = set().union(*(users for _, users in torn_down)) - {report.nodeid}
            setattr(report, _CHARGED, sorted(charged))


class Controller:
    """Records every test's outcome, then evaluates, gates, prints and writes: in a serial
    run, or as the pytest-xdist controller (from the reports and tags workers send)."""

    def __init__(
        self,
        config: pytest.Config,
        registry: Registry,
        collector: Collector,
        gate: str | None,
        report: str | None,
        flaky: FlakyPolicy,
    ) -> None:
        from .evidence import OutcomeTracker

        self.config = config
        self.registry = registry
        self.collector = collector
        self.gate = gate
        self.report = report
        self.flaky: FlakyPolicy = flaky
        self.tracker = OutcomeTracker()
        # --dist each runs every test on every worker: fold each worker's reports apart
        self.per_worker = config.getoption("dist", "no") == "each"
        #: what pytest-xdist workers told: tests selected, tags (the first map wins)
        self.xdist_selected: set[str] = set()
        self.xdist_tagged: dict[str, _Tag] | None = None
        self.collection_errors = 0
        self.stopped: str | None = None
        self.evidence: Evidence | None = None
        self.gate_result: GateResult | None = None
        self.report_error: str | None = None

    # -- outcomes -------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        worker = getattr(report, "worker_id", "") if self.per_worker else ""
        self.tracker.add(
            report.nodeid,
            report.when,
            report.outcome,
            xfail=hasattr(report, "wasxfail"),
            worker=worker,
        )
        for nodeid in getattr(report, _CHARGED, ()):
            self.tracker.fail(nodeid, worker)

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
        """xdist controller: a worker finished; take its tags (workers collect alike)."""
        data = getattr(node, "workeroutput", {}).get(_WORKER_OUTPUT_KEY)
        if data is not None and self.xdist_tagged is None:
            self.xdist_tagged = {
                nodeid: (tuple(inv), tuple(ms)) for nodeid, (inv, ms) in json.loads(data)
            }

    # -- the end of the run ---------------------------------------------------------------

    def _runs_no_test(self) -> bool:
        """``--fixtures`` and ``--fixtures-per-test`` collect but run nothing: nothing to judge."""
        option = self.config.option
        return bool(
            getattr(option, "showfixtures", False)
            or getattr(option, "show_fixtures_per_test", False)
        )

    def _plans_only(self) -> str | None:
        """The option of a mode that collects and plans but runs no test, if given."""
        option = self.config.option
        for flag, dest in (
            ("--collect-only", "collectonly"),
            ("--setup-plan", "setupplan"),
            ("--setup-only", "setuponly"),
        ):
            if getattr(option, dest, False):
                return flag
        return None

    def _incomplete(
        self, session: pytest.Session, exitstatus: int, selected: Iterable[str]
    ) -> str | None:
        """Why the run cannot vouch for its gate, or None."""
        if (flag := self._plans_only()) is not None:
            return f"{flag}: no test ran"
        if self.collection_errors:
            n = self.collection_errors
            return f"{n} error{'s' if n != 1 else ''} during collection"
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
        unreached = sorted(set(selected) - self.tracker.reached())
        if unreached:
            n = len(unreached)
            return (
                f"{n} selected test{' never ran' if n == 1 else 's never ran'} "
                f"(the run ended before {unreached[0]})"
            )
        return None

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from .evidence import decide_gate, evaluate
        from .model import TestRecord
        from .summary import GATE_FAILED_EXIT

        if self._runs_no_test():
            return
        if self.collector.collected:
            tagged, selected = self.collector.tagged, self.collector.selected
        else:
            tagged, selected = self.xdist_tagged or {}, sorted(self.xdist_selected)
        tags_lost = (
            not self.collector.collected and bool(self.xdist_selected) and self.xdist_tagged is None
        )
        records = {
            nodeid: TestRecord(nodeid, self.tracker.outcome(nodeid), invariants, milestones)
            for nodeid, (invariants, milestones) in sorted(tagged.items())
        }
        evidence = evaluate(
            self.registry,
            records,
            flaky=self.flaky,
            incomplete=self._incomplete(session, exitstatus, selected),
            tags_lost=tags_lost,
        )
        self.config.hook.pytest_parity_evidence(evidence=evidence)
        self.evidence = evidence
        gate = decide_gate(evidence, self.gate) if self.gate is not None else None
        self.gate_result = gate
        if self.report is not None:
            from .report import write_report

            try:
                write_report(self.report, evidence, gate)
            except ParityError as exc:
                self.report_error = str(exc)
                if session.exitstatus == pytest.ExitCode.OK:
                    session.exitstatus = pytest.ExitCode.USAGE_ERROR
        # a gate that failed, or that the run could not vouch for, fails a green run; a
        # mode that only plans (--collect-only) keeps pytest's code
        if (
            gate is not None
            and not gate.passed
            and session.exitstatus == pytest.ExitCode.OK
            and self._plans_only() is None
        ):
            session.exitstatus = GATE_FAILED_EXIT

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.evidence is None:  # a mode that runs no test
            return
        from .summary import render_summary

        tr = terminalreporter
        tr.write_sep("=", "parity")
        lines = render_summary(self.evidence, self.gate_result, self.config.get_verbosity())
        if self.report is not None:
            # the gate line stays last
            lines.insert(
                -1,
                f"ERROR: parity report not written: {self.report_error}"
                if self.report_error is not None
                else f"parity report: {self.report}",
            )
        for line in lines:
            markup: dict[str, bool] = {}
            if line.startswith(("FAILED", "MISSING", "NOT-RUN", "ERROR")) or ": FAILED" in line:
                markup = {"red": True}
            elif line.endswith(": PASSED"):
                markup = {"green": True}
            elif line.startswith(("WAIVED", "flaky:")) or "NOT EVALUATED" in line:
                markup = {"yellow": True}
            tr.write_line(line, **markup)
