"""Where tests are collected and run (a serial run, or each pytest-xdist worker).

:class:`Collector` tags every collected test with the invariants it names;
:class:`FixtureWatch` follows the shared fixture instances they use, so that a test whose
shared fixture was not torn down cleanly proves nothing. A worker hands both to the
controller: the tags in its ``workeroutput``, the fixtures in the test reports.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from .model import ParityError
from .tags import GlobMatcher, check_marker

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable

    from .model import Registry

#: a test's tag: (sorted invariant IDs, sorted ``milestone=`` milestones)
Tag = tuple[tuple[str, ...], tuple[str, ...]]

#: where a worker's ``workeroutput`` carries its tags to the controller
WORKER_OUTPUT_KEY = "pytest_parity.tagged"

#: the ``TestReport`` attributes naming the shared fixture instances a test used, and those
#: torn down in the report's phase (also a ``workeroutput`` key: those torn down at the end)
USED = "parity_fixtures_used"
TORN_DOWN = "parity_fixtures_torn_down"


def fail_collection(session: pytest.Session, errors: list[tuple[pytest.Item, str]]) -> None:
    """Fail the run before any test runs, with one collection error per bad test: a
    ``UsageError`` in a pytest-xdist worker would be an INTERNALERROR."""
    for item, message in errors:
        report = pytest.CollectReport(
            nodeid=item.nodeid, outcome="failed", longrepr=f"{item.nodeid}: {message}", result=[]
        )
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
        errors = [(item, message) for item in session.items if item.get_closest_marker("parity")]
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
        #: node ID -> tag, for every tagged collected test (selected or deselected)
        self.tagged: dict[str, Tag] = {}
        #: node IDs of the tests selected to run
        self.selected: list[str] = []
        #: whether collection finished here (it does not in an xdist controller)
        self.collected = False
        self._deselected: list[pytest.Item] = []

    def tag(self, item: pytest.Item) -> Tag | None:
        """The tag of ``item`` (ParityError for a bad marker), ``None`` if it names nothing."""
        invariants = self.matcher.match(item.nodeid)
        milestones: set[str] = set()
        for mark in item.iter_markers("parity"):
            ids, milestone = check_marker(self.registry, mark.args, mark.kwargs)
            invariants.update(ids)
            if milestone is not None:
                milestones.add(milestone)
        if not invariants and not milestones:
            return None
        return tuple(sorted(invariants)), tuple(sorted(milestones))

    def add_keywords(self, items: Iterable[pytest.Item]) -> None:
        """A test's invariants and milestones become keywords, for ``-k RUNKEY-01`` and
        ``-k M1``. Bad markers are left for :meth:`pytest_collection_finish` to report."""
        milestone_of = {inv.id: inv.milestone for inv in self.registry.invariants.values()}
        for item in items:
            try:
                tag = self.tag(item)
            except ParityError:
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
            except ParityError as exc:
                errors.append((item, f"@pytest.mark.parity: {exc}"))
                continue
            if tag is not None:
                self.tagged[item.nodeid] = tag
        self._deselected = []
        self.collected = True
        if errors:
            self.tagged = {}
            fail_collection(session, errors)
        self.selected = [item.nodeid for item in session.items]
        if hasattr(self.config, "workeroutput"):
            # one JSON string: execnet sends a str in one piece, a big dict object by object
            tags = {"registry": self.registry.sha256(), "tagged": sorted(self.tagged.items())}
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
