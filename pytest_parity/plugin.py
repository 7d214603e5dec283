"""The pytest adapter: options, the ``parity`` marker, outcome bookkeeping, gate and report.

Kept thin on purpose: everything that decides lives in the pure core (registry, evidence,
report, summary). With no registry and no ``parity`` marker the plugin is dormant: only a
cheap marker check runs at collection time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .model import Evidence, FlakyPolicy, GateResult, Registry

MARKER_HELP = (
    "parity(*invariant_ids, milestone=None): this test proves the named invariants "
    "declared in the pytest-parity registry; milestone= tags it as part of that "
    "milestone's gate suite."
)

_STATE_KEY = pytest.StashKey["ParitySession"]()

#: key in xdist's ``workeroutput`` that carries a worker's collection map to the controller
_WORKER_OUTPUT_KEY = "pytest_parity.tagged"


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


def _setting(config: pytest.Config, name: str) -> str | None:
    """A command-line option, else its ini twin, else None (empty ini values count as unset)."""
    value: str | None = getattr(config.option, name, None)
    return _ini(config, name) if value is None else value


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _ini(config: pytest.Config, name: str) -> str | None:
    value = config.getini(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _may_have_registry(config: pytest.Config, ini_registry: str | None) -> bool:
    """A cheap first look: ``False`` means there is certainly no registry, and the plugin
    stays dormant without even importing its core. ``True`` hands the question to
    :func:`registry.find_registry`, which decides (and reports problems)."""
    if config.option.parity_registry is not None or ini_registry is not None:
        return True
    root = config.rootpath
    if (root / "parity.toml").exists():
        return True
    try:
        raw = (root / "pyproject.toml").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:  # unreadable: let find_registry say so
        return True
    # a [tool.parity] table names "parity", possibly through \u escapes in a quoted key
    return b"parity" in raw or b"\\u" in raw or b"\\U" in raw


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    ini_registry = _ini(config, "parity_registry")
    path = None
    if _may_have_registry(config, ini_registry):
        from .model import ParityError
        from .registry import find_registry

        try:
            path = find_registry(config.rootpath, config.option.parity_registry, ini_registry)
        except ParityError as exc:
            raise pytest.UsageError(str(exc)) from None
    if path is None:
        for name, flag in (("parity_gate", "--parity-gate"), ("parity_report", "--parity-report")):
            if _setting(config, name) is not None:
                raise pytest.UsageError(
                    f"{flag} (or ini {name}) is set but no pytest-parity registry was found: "
                    "add parity.toml or [tool.parity] to pyproject.toml in the rootdir "
                    f"({config.rootpath}), or pass --parity-registry=PATH"
                )
        config.pluginmanager.register(_DormantGuard(), "parity-dormant-guard")
        return
    cls = ParitySession if _is_worker(config) else ParityController
    state = cls.from_config(config, path)
    config.stash[_STATE_KEY] = state
    config.pluginmanager.register(state, "parity-session")


class _DormantGuard:
    """No registry: the only job is to refuse ``parity`` markers (they could prove nothing)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        # Each node's own markers are looked at once (a module's or class's markers are
        # shared by its tests); only when one is found are the tests asked one by one.
        seen: set[object] = set()
        found = False
        for item in items:
            node: Any = item
            while node is not None and node not in seen:
                seen.add(node)
                if any(mark.name == "parity" for mark in node.own_markers):
                    found = True
                    break
                node = node.parent
            if found:
                break
        if not found:
            return
        errors = [
            (
                item,
                "@pytest.mark.parity is used but no pytest-parity registry was found "
                f"(add parity.toml or [tool.parity] to pyproject.toml in {config.rootpath}, "
                "or pass --parity-registry=PATH)",
            )
            for item in items
            if item.get_closest_marker("parity") is not None
        ]
        if errors:
            _fail_collection(session, items, errors)


def _fail_collection(
    session: pytest.Session, items: list[pytest.Item], errors: list[tuple[pytest.Item, str]]
) -> None:
    """Fail the run before any test runs, cleanly, serially and under pytest-xdist.

    A ``pytest.UsageError`` raised in an xdist worker's collection becomes INTERNALERROR, so
    bad markers become collection errors instead (one per offending test, naming it). A
    serial run stops with "Interrupted: N errors during collection" (exit code 2); under
    pytest-xdist the controller reports the workers' collection errors (exit code 1).
    Either way nothing runs.
    """
    for item, message in errors:
        report = pytest.CollectReport(
            nodeid=item.nodeid,
            outcome="failed",
            longrepr=f"{item.nodeid}: {message}",
            result=[],
        )
        session.config.hook.pytest_collectreport(report=report)
    # nothing may run: a worker would otherwise still be handed tests
    items.clear()


class _BadMarker(Exception):
    pass


#: a test's parity tag: (sorted invariant IDs, sorted ``milestone=`` tags)
_Tag = tuple[tuple[str, ...], tuple[str, ...]]


class ParitySession:
    """Per-run state, kept in ``config.stash`` and registered as a plugin.

    This base tags the collected tests (in a serial run, the xdist controller's workers);
    :class:`ParityController` adds everything that only the deciding process does.
    """

    def __init__(
        self,
        config: pytest.Config,
        registry: Registry,
        gate: str | None,
        report: str | None,
        flaky: FlakyPolicy,
    ) -> None:
        from .evidence import OutcomeTracker
        from .registry import GlobMatcher

        self.config = config
        self.registry = registry
        self.gate = gate
        self.report = report
        self.flaky: FlakyPolicy = flaky
        self.is_worker = _is_worker(config)
        self.matcher = GlobMatcher(registry)
        self.milestone_of = {inv.id: inv.milestone for inv in registry.invariants.values()}
        self.milestones = set(registry.milestone_ids())
        #: node ID -> its tag, for every tagged collected test
        self.tagged: dict[str, _Tag] = {}
        self.collected = False
        # what only ParityController uses (cheap to create, so kept in one place)
        # --dist each runs every test on every worker: fold each worker's reports apart.
        # Otherwise one fold per test, so a crashed worker's rerun report (made by the
        # controller) and the retry on another worker still make one flaky test.
        per_worker = getattr(config.option, "dist", "no") == "each"
        self.tracker = OutcomeTracker(per_worker=per_worker)
        #: the distinct collection maps xdist workers sent (JSON strings)
        self._worker_maps: set[str] = set()
        self.collection_errors = 0
        self.evidence: Evidence | None = None
        self.gate_result: GateResult | None = None
        self.report_error: str | None = None
        # validated marker contents, by marker arguments (without / with keywords)
        self._mark_cache: dict[Any, _Tag] = {}
        self._mark_cache_kw: dict[Any, _Tag] = {}

    @classmethod
    def from_config(cls, config: pytest.Config, path: os.PathLike[str] | str) -> ParitySession:
        from .model import FLAKY_POLICIES, ParityError
        from .registry import load_registry

        try:
            registry = load_registry(Path(path))
            config.hook.pytest_parity_registry_loaded(registry=registry)
            gate = _setting(config, "parity_gate")
            if gate is not None:
                registry.scope(gate)  # validates: 'all' or a declared milestone
            flaky = _setting(config, "parity_flaky") or "fail"
            if flaky not in FLAKY_POLICIES:
                raise ParityError(
                    f"parity_flaky: {flaky!r} is not one of {', '.join(FLAKY_POLICIES)}"
                )
            report = _setting(config, "parity_report")
            if report is not None:
                if config.option.parity_report is None:  # the ini value is rootdir-relative
                    report = str(config.rootpath / report)
                if os.path.isdir(report):
                    raise ParityError(f"--parity-report: {report} is a directory")
        except ParityError as exc:
            raise pytest.UsageError(str(exc)) from None
        return cls(config, registry, gate, report, flaky)

    # -- collection -----------------------------------------------------------------------

    def _parse_mark(self, mark: Any) -> _Tag:
        """Validate one ``parity`` mark; cached by its arguments (shared by many tests)."""
        kwargs = mark.kwargs
        cache = self._mark_cache_kw if kwargs else self._mark_cache
        try:
            key = (mark.args, tuple(kwargs.items())) if kwargs else mark.args
            cached = cache.get(key)
        except TypeError:  # unhashable arguments: invalid, rejected below, never cached
            key = cached = None
        if cached is not None:
            return cached
        registry = self.registry
        ids: list[str] = []
        for arg in mark.args:
            if not isinstance(arg, str) or not arg.strip():
                raise _BadMarker(
                    f"@pytest.mark.parity: invariant IDs must be non-empty strings, got {arg!r}"
                )
            if arg not in registry.invariants:
                from .registry import did_you_mean

                raise _BadMarker(
                    f"@pytest.mark.parity: unknown invariant ID {arg!r}"
                    f"{did_you_mean(arg, registry.invariants)} (registry: {registry.source})"
                )
            ids.append(arg)
        milestones: tuple[str, ...] = ()
        for name, value in kwargs.items():
            if name != "milestone":
                raise _BadMarker(
                    f"@pytest.mark.parity: unknown keyword argument {name}={value!r} "
                    "(the only keyword is milestone=)"
                )
            if value is None:
                continue
            if not isinstance(value, str) or value not in self.milestones:
                from .registry import did_you_mean

                raise _BadMarker(
                    f"@pytest.mark.parity: milestone={value!r} is not a declared milestone "
                    f"(declared: {', '.join(registry.milestone_ids())})"
                    f"{did_you_mean(str(value), self.milestones)}"
                )
            milestones = (value,)
        if not ids and not milestones:
            raise _BadMarker("@pytest.mark.parity needs at least one invariant ID or milestone=")
        # one invariant ID and no milestone: the usual mark, its tag without sorting
        tag = ((ids[0],), ()) if len(ids) == 1 and not milestones else self._tag(ids, milestones)
        if key is not None:
            cache[key] = tag
        return tag

    @staticmethod
    def _tag(invariants: Iterable[str], milestones: Iterable[str]) -> _Tag:
        """(sorted invariant IDs, sorted ``milestone=`` tags)."""
        return tuple(sorted(set(invariants))), tuple(sorted(set(milestones)))

    def _keywords(self, tag: _Tag) -> tuple[str, ...]:
        """A tag's keywords for ``-k``: its invariant IDs and milestones, and the milestone
        of each of its invariants."""
        inv, ms = tag
        milestone_of = self.milestone_of
        return tuple(sorted({*inv, *ms, *(milestone_of[i] for i in inv)}))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """The run is over: let go of its state, as pytest's own junitxml does.

        pluggy keeps every plugin ever registered in the call history of the historic
        ``pytest_plugin_registered`` hook, so this object outlives the run (in pytester
        runs, the whole process): its per-test data is dropped too. That data is mostly
        NamedTuples, which the garbage collector never stops tracking (it untracks exact
        tuples only), so every full collection after the run, such as the ones pytest
        makes while unconfiguring, would otherwise walk thousands of them.
        """
        from .evidence import OutcomeTracker

        del config.stash[_STATE_KEY]
        config.pluginmanager.unregister(self)
        self.tagged = {}
        self._worker_maps = set()
        self.tracker = OutcomeTracker()
        vars(self).pop("pytest_runtest_logreport", None)  # the old tracker's bound method
        self.evidence = None
        self.gate_result = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        # tryfirst: keywords must be in place before -k/-m deselect, and deselected tests
        # must be known (they count as not-run, not as missing)
        from .model import gc_paused

        with gc_paused():
            self._tag_items(session, items)
        if self.is_worker:
            # one JSON string: execnet serializes a str in one piece, but a dict of 20,000
            # lists object by object (seconds of controller CPU on big suites)
            # (runs in xdist worker processes, which in-process coverage does not see)
            config.workeroutput[_WORKER_OUTPUT_KEY] = json.dumps(  # type: ignore[attr-defined]
                [[nodeid, inv, ms] for nodeid, (inv, ms) in self.tagged.items()],
                separators=(",", ":"),
            )

    def _tag_items(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        match = None if self.matcher.empty else self.matcher.match
        parse = self._parse_mark
        # marks without keywords, by their arguments: what parse() returns for them
        plain = self._mark_cache
        tag_of = self._tag
        tagged = self.tagged
        # only -k reads keywords: without it, do not grow 5,000 keyword sets for nothing
        keywords_of: dict[_Tag, tuple[str, ...]] | None = {} if self.config.option.keyword else None
        errors: list[tuple[pytest.Item, str]] = []
        # The parity marks of an item are its own plus those of its parents (class, module,
        # package): what item.iter_markers("parity") yields, but each parent's share is
        # looked up once instead of once per test.
        inherited: dict[int, tuple[Any, ...]] = {}

        def marks_from(node: Any) -> tuple[Any, ...]:
            if node is None:
                return ()
            found = inherited.get(id(node))
            if found is None:
                own = tuple(mark for mark in node.own_markers if mark.name == "parity")
                found = inherited[id(node)] = own + marks_from(node.parent)
            return found

        last_parent: Any = None
        marks: tuple[Any, ...] = ()
        for item in items:
            parent = item.parent
            if parent is not last_parent:  # a module's or class's tests come in a row
                last_parent = parent
                marks = marks_from(parent)
            own = item.own_markers
            tag: _Tag | None = None
            if not marks and len(own) == 1:
                # the common case, looked up without a call: the test's only mark is a
                # parity mark without keywords that an earlier test already had
                mark = own[0]
                if mark.name == "parity" and not mark.kwargs:
                    try:
                        tag = plain.get(mark.args)
                    except TypeError:  # unhashable arguments: parse() rejects them
                        tag = None
            if tag is None:
                found = [mark for mark in own if mark.name == "parity"]
                if marks:
                    found += marks
                try:
                    for mark in found:
                        one = parse(mark)
                        tag = one if tag is None else tag_of(tag[0] + one[0], tag[1] + one[1])
                except _BadMarker as exc:
                    errors.append((item, str(exc)))
                    continue
            nodeid = item.nodeid
            if match is not None:
                globbed = match(nodeid)
                if globbed:
                    tag = tag_of(globbed, ()) if tag is None else tag_of(tag[0] + globbed, tag[1])
            if tag is None:
                continue
            tagged[nodeid] = tag
            if keywords_of is not None:
                keywords = keywords_of.get(tag)
                if keywords is None:
                    keywords = keywords_of[tag] = self._keywords(tag)
                item.extra_keyword_matches.update(keywords)
        self.collected = True
        if errors:
            _fail_collection(session, items, errors)


class ParityController(ParitySession):
    """The serial run or the pytest-xdist controller: it alone records outcomes,
    evaluates, gates, prints and writes (workers only tag their collection)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # pytest_runtest_logreport, the hot path of every run (three reports per test): the
        # tracker's own method is this hook's implementation (pluggy registers an instance
        # attribute like a method), so each report costs one Python call, not two.
        self.pytest_runtest_logreport = self.tracker.add_report

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors += 1

    # -- outcomes -------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist controller: a worker finished; take its collection map."""
        output = getattr(node, "workeroutput", None) or {}
        data = output.get(_WORKER_OUTPUT_KEY)
        if data is None:  # the worker never finished collecting
            return
        self.collected = True
        # Workers collect alike (xdist insists), so their maps are usually the same
        # string: the same map again adds nothing, and parsing it is skipped.
        if data in self._worker_maps:
            return
        self._worker_maps.add(data)
        tagged = self.tagged
        for nodeid, inv, ms in json.loads(data):
            tagged.setdefault(nodeid, (tuple(inv), tuple(ms)))  # the first map's tag wins

    # -- the end of the run ---------------------------------------------------------------

    def _incomplete(self, session: pytest.Session, exitstatus: int) -> str | None:
        if self.config.option.collectonly:
            return "--collect-only: no test ran"
        if self.collection_errors:
            n = self.collection_errors
            return f"{n} error{'s' if n != 1 else ''} during collection"
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return "the run was interrupted"
        if exitstatus in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
            code = pytest.ExitCode(exitstatus)
            return f"pytest ended with exit code {int(code)} ({code.name})"
        if not self.collected:
            return "collection did not finish"
        if session.shouldfail or session.shouldstop:
            return f"the run stopped early ({session.shouldfail or session.shouldstop})"
        return None

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from .evidence import decide_gate, evaluate
        from .model import ParityError, gc_paused, record_from_row
        from .summary import GATE_FAILED_EXIT

        with gc_paused():
            # column by column, in C: a big run has a record per tagged test
            nodeids = sorted(self.tagged)
            tags = list(map(self.tagged.__getitem__, nodeids))
            rows = zip(
                nodeids,
                self.tracker.outcomes(nodeids),
                map(itemgetter(0), tags),
                map(itemgetter(1), tags),
                strict=True,
            )
            records = dict(zip(nodeids, map(record_from_row, rows), strict=True))
            evidence = evaluate(
                self.registry,
                records,
                flaky=self.flaky,
                incomplete=self._incomplete(session, exitstatus),
            )
        self.config.hook.pytest_parity_evidence(evidence=evidence)
        self.evidence = evidence
        # the gate and the report allocate in bursts too (and import junitparser)
        with gc_paused():
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
        if (
            gate is not None
            and not gate.passed
            and gate.not_evaluated is None
            and session.exitstatus == pytest.ExitCode.OK
        ):
            session.exitstatus = GATE_FAILED_EXIT

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.evidence is None:  # pragma: no cover - sessionfinish always runs first
            return
        from .summary import render_summary

        verbosity = self.config.get_verbosity()
        tr = terminalreporter
        tr.write_sep("=", "parity")
        lines = render_summary(self.evidence, self.gate_result, verbosity)
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
