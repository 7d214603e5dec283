"""Where tests are collected and run (a serial run, or each pytest-xdist worker).

:class:`Collector` tags every collected test with the invariants it names;
:class:`FixtureWatch` charges a failed teardown of a shared fixture to every test that
used it. A worker hands both results to the controller: the tags in its
``workeroutput``, the charges in the failing report.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from .model import ParityError
from .tags import GlobMatcher, check_marker

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .model import Registry

#: a test's tag: (sorted invariant IDs, sorted ``milestone=`` milestones)
Tag = tuple[tuple[str, ...], tuple[str, ...]]

#: where a worker's ``workeroutput`` carries its tags to the controller
WORKER_OUTPUT_KEY = "pytest_parity.tagged"

#: the ``TestReport`` attribute naming the tests a failed shared-fixture teardown fails
CHARGED = "parity_charged"


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
            self.config.workeroutput[WORKER_OUTPUT_KEY] = json.dumps(sorted(self.tagged.items()))


class FixtureWatch:
    """Charges a failed teardown of a shared fixture to every test that used it.

    pytest reports a class-, module-, package- or session-scoped fixture's teardown error
    on whichever test ran last before the fixture was torn down. This object remembers
    the users of each live shared fixture instance (tests whose fixture closure names
    it, and the test that set it up); when a report fails while shared fixtures were
    torn down in that phase, it names all their users in that report. pytest does not
    say which of the fixtures torn down together failed, so the users of each are named.
    """

    def __init__(self) -> None:
        #: live shared fixture instances: fixturedef -> the node IDs of their users
        self._live: dict[Any, set[str]] = {}
        #: the users of the shared fixture instances torn down since the last report
        self._torn_down: list[set[str]] = []
        self._running = ""

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._running = nodeid

    def pytest_fixture_setup(self, fixturedef: Any) -> None:
        if fixturedef.scope != "function":
            self._live[fixturedef] = {self._running} - {""}

    def pytest_fixture_post_finalizer(self, fixturedef: Any) -> None:
        if fixturedef in self._live:
            self._torn_down.append(self._live.pop(fixturedef))

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
            setattr(report, CHARGED, sorted(set().union(*torn_down) - {report.nodeid}))
