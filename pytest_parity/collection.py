"""Where tests are collected and run (a serial run, or each pytest-xdist worker).

:class:`Collector` tags every collected test with the invariants it names;
:class:`FixtureWatch` follows the shared fixture instances they use, so that a test whose
shared fixture was not torn down cleanly proves nothing. A worker hands both to the
controller: the tags in its ``workeroutput``, the fixtures in the test reports.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import pytest

from .model import ParityError, TestRecord, function_of
from .tags import GlobMatcher, check_marker

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable

    from .model import Registry

#: where a worker's ``workeroutput`` carries its tags to the controller
WORKER_OUTPUT_KEY = "pytest_parity.tagged"

#: the ``TestReport`` attributes naming the shared fixture instances a test used, and those
#: torn down in the report's phase (also a ``workeroutput`` key: those torn down at the end)
USED = "parity_fixtures_used"
TORN_DOWN = "parity_fixtures_torn_down"


def fail_collection(
    session: pytest.Session, errors: dict[tuple[str, str], list[pytest.Item]]
) -> None:
    """Fail the run before any test runs, with one collection error per bad marker of a
    test function (a ``UsageError`` in a pytest-xdist worker would be an INTERNALERROR)."""
    for (function, message), items in errors.items():
        where = f"{function}[*] ({len(items)} tests)" if len(items) > 1 else items[0].nodeid
        longrepr = f"{where}: {message}"
        report = pytest.CollectReport(items[0].nodeid, "failed", longrepr, result=[])
        session.config.hook.pytest_collectreport(report=report)
    session.items.clear()  # nothing may run, and an xdist worker reports no test


class DormantGuard:
    """No registry: refuse ``parity`` markers, which could prove nothing."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        message = (
            "@pytest.mark.parity is used but no pytest-parity registry was found (add "
            f"parity.toml or [tool.parity] to pyproject.toml in {session.config.rootpath}, "
            "or pass --parity-registry=PATH)"
        )
        errors: dict[tuple[str, str], list[pytest.Item]] = {}
        for item in session.items:
            if item.get_closest_marker("parity"):
                errors.setdefault((function_of(item.nodeid), message), []).append(item)
        if errors:
            fail_collection(session, errors)


class Collector:
    """Tags the collected tests with the invariants they name (markers and ``tests`` globs).

    Tags are settled once collection is finished: after every plugin's and conftest's
    ``pytest_collection_modifyitems`` (markers they add count) and after deselection (a
    deselected test still names its invariants: they are not-run, not missing).
    """

    def __init__(self, config: pytest.Config, registry: Registry) -> None:
        self.config = config
        self.registry = registry
        self.matcher = GlobMatcher(registry)
        #: node ID -> its record before it runs, for every tagged collected test
        self.tagged: dict[str, TestRecord] = {}
        #: node ID -> the invariants only a ``tests`` glob names (for the plan)
        self.by_glob: dict[str, set[str]] = {}
        #: node IDs of the tests selected to run, and of every collected test
        self.selected: list[str] = []
        self.collected_ids: list[str] = []
        #: whether collection finished here (it does not in an xdist controller)
        self.collected = False
        self._deselected: list[pytest.Item] = []
        self._glob_marks: set[int] = set()  # markers this object added for -m

    def tag(self, item: pytest.Item) -> TestRecord | None:
        """What ``item`` names (ParityError for a bad marker), ``None`` if nothing."""
        by_glob = self.matcher.match(item.nodeid)
        invariants: set[str] = set()
        milestones: set[str] = set()
        for mark in item.iter_markers("parity"):
            if id(mark) not in self._glob_marks:
                ids, milestone = check_marker(self.registry, mark.args, mark.kwargs)
                invariants.update(ids)
                milestones.update([milestone] if milestone is not None else [])
        if not (invariants or milestones or by_glob):
            return None
        if by_glob - invariants:
            self.by_glob[item.nodeid] = by_glob - invariants
        # the file as the node ID names it; the line comes with the test's reports (for a
        # test that never runs, working out ``item.location`` would cost more than the rest)
        return TestRecord(
            item.nodeid,
            "not-run",
            tuple(sorted(invariants | by_glob)),
            tuple(sorted(milestones)),
            file=item.nodeid.partition("::")[0],
        )

    def prepare_selection(self, items: Iterable[pytest.Item], keywords: bool, marks: bool) -> None:
        """Before pytest deselects: a test's invariants and milestones become keywords
        (``-k RUNKEY-01``, ``-k M1``), and a test a ``tests`` glob maps gets the ``parity``
        marker (``-m parity``). Bad markers are left for collection's end to report."""
        milestone_of = {inv.id: inv.milestone for inv in self.registry.invariants.values()}
        for item in items:
            try:
                record = self.tag(item)
            except ParityError:
                continue
            if record is None:
                continue
            if keywords:
                item.extra_keyword_matches.update(
                    {*record.invariants, *record.milestones}
                    | {milestone_of[i] for i in record.invariants}
                )
            if marks and item.nodeid in self.by_glob:
                marker = pytest.mark.parity(*sorted(self.by_glob[item.nodeid]))
                self._glob_marks.add(id(marker.mark))
                item.add_marker(marker)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self._deselected.extend(items)

    @pytest.hookimpl(tryfirst=True)  # before pytest-xdist's worker sends its collection
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        errors: dict[tuple[str, str], list[pytest.Item]] = {}
        self.by_glob = {}
        deselected, self._deselected = self._deselected, []
        for item in [*session.items, *deselected]:
            try:
                record = self.tag(item)
            except ParityError as exc:
                # one error per marker problem of one test function, not per instance
                message = f"@pytest.mark.parity: {exc}"
                errors.setdefault((function_of(item.nodeid), message), []).append(item)
                continue
            if record is not None:
                self.tagged[item.nodeid] = record
        self.collected = True
        if errors:
            self.tagged = {}
            fail_collection(session, errors)
        self.selected = [item.nodeid for item in session.items]
        self.collected_ids = [*self.selected, *(item.nodeid for item in deselected)]
        if hasattr(self.config, "workeroutput"):
            # one JSON string: execnet sends a str in one piece, a big dict object by object
            tagged = [dataclasses.astuple(record) for record in self.tagged.values()]
            tags = {"registry": self.registry.sha256(), "tagged": tagged}
            self.config.workeroutput[WORKER_OUTPUT_KEY] = json.dumps(tags)


class FixtureWatch:
    """Says which shared fixture instances each test used, and when each was torn down.

    A test proves only if every class-, module-, package- or session-scoped fixture
    instance it used was torn down cleanly, yet pytest reports such a teardown on
    whichever test ran last before it. So each live instance gets a unique name; a
    test's teardown report names the instances it used (those its fixture closure names,
    and those set up while it ran), and the report of the phase in which instances were
    torn down names them (a failing, skipped or rerun report: not cleanly). The rest are
    torn down when the session finishes: a worker sends them in its ``workeroutput``.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        workerinput = getattr(config, "workerinput", None)
        self._prefix = f"{workerinput['workerid']}:" if workerinput else ""
        self._count = 0
        #: live shared fixture instances: fixturedef -> the instance's name
        self._live: dict[Any, str] = {}
        self._set_up_by_this_test: set[str] = set()
        self._used: list[str] = []
        #: instances torn down since the last report
        self.torn_down: list[str] = []

    def pytest_runtest_logstart(self) -> None:
        self._set_up_by_this_test = set()

    def pytest_fixture_setup(self, fixturedef: Any) -> None:
        if fixturedef.scope != "function":
            self._count += 1
            name = self._live[fixturedef] = f"{self._prefix}{self._count}:{fixturedef.argname}"
            self._set_up_by_this_test.add(name)

    def pytest_fixture_post_finalizer(self, fixturedef: Any) -> None:
        if fixturedef in self._live:
            self.torn_down.append(self._live.pop(fixturedef))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        names = set(getattr(item, "fixturenames", ()))
        self._used = [
            name
            for fixturedef, name in self._live.items()
            if fixturedef.argname in names or name in self._set_up_by_this_test
        ]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        # right after each phase: a plugin may log the reports later (pytest-rerunfailures)
        report = yield
        if call.when == "teardown" and self._used:
            setattr(report, USED, self._used)
            self._used = []
        if self.torn_down:  # in a teardown, or in a setup where a parameter changed
            setattr(report, TORN_DOWN, self.torn_down)
            self.torn_down = []
        return report

    @pytest.hookimpl(trylast=True)  # after pytest tore down what was left
    def pytest_sessionfinish(self) -> None:
        if hasattr(self.config, "workeroutput"):
            self.config.workeroutput[TORN_DOWN] = self.torn_down
