"""The pure data model shared by the registry, the evidence, the report and the CLI.

Nothing here knows about pytest. Data flows one way:
registry -> tagged tests (TestRecord) -> evidence (InvariantResult) -> gate / report / matrix.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import hashlib
import json
import operator
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal, NamedTuple, get_args

Outcome = Literal["passed", "failed", "skipped", "flaky", "not-run"]
"""What one test (one node ID) did in the run.

``not-run``: collected but deselected, or never reached (run stopped early).
``flaky``: failed first, then passed on a rerun.
"""

Status = Literal["proven", "failed", "missing", "not-run", "waived"]
"""What the run decided for one declared invariant."""

FlakyPolicy = Literal["fail", "allow"]

OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
STATUSES: tuple[Status, ...] = get_args(Status)
FLAKY_POLICIES: tuple[FlakyPolicy, ...] = get_args(FlakyPolicy)

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")

#: Precedence used when the same test is seen more than once (shards, ``--dist each``):
#: any failure wins, then a flaky pass, then a pass, then a skip, then "not run".
OUTCOME_RANK: dict[Outcome, int] = {
    "failed": 4,
    "flaky": 3,
    "passed": 2,
    "skipped": 1,
    "not-run": 0,
}


def worst_outcome(a: Outcome, b: Outcome) -> Outcome:
    """Combine two observations of one test: the one that says less in favour wins."""
    return a if OUTCOME_RANK[a] >= OUTCOME_RANK[b] else b


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a burst of small allocations.

    A big test suite keeps many objects alive, so every collection such a burst triggers
    scans them all, and the burst's cost grows faster than its input. What the bursts here
    allocate holds no reference cycles; the collector resumes (if it was on) afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def visible(match: re.Match[str]) -> str:
    """A ``re.sub`` replacement showing one character as the text ``\\xNN`` / ``\\uNNNN``
    (how the report, the matrix and the summary show characters they cannot print)."""
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class ParityError(Exception):
    """Bad user input (registry, marker, option, report file). The message is for humans."""


# The value types are NamedTuples and the two mutable ones plain classes, not dataclasses:
# the plugin imports this module in every active run, and creating eight dataclasses
# (which compiles their generated methods) cost about 3 ms of it.


class Waiver(NamedTuple):
    reason: str
    until: dt.date

    def holds_on(self, today: dt.date) -> bool:
        """A waiver holds through its ``until`` date and is expired from the day after."""
        return today <= self.until


class Milestone(NamedTuple):
    id: str
    title: str = ""


class Invariant(NamedTuple):
    id: str
    milestone: str
    title: str
    min_tests: int = 1
    tests: tuple[str, ...] = ()
    waiver: Waiver | None = None


class Registry:
    """The declared milestones (ordered) and invariants (declared order)."""

    __slots__ = ("invariants", "milestones", "source")

    def __init__(
        self,
        milestones: list[Milestone],
        invariants: dict[str, Invariant] | None = None,
        source: str = "<registry>",
    ) -> None:
        self.milestones = milestones
        self.invariants: dict[str, Invariant] = {} if invariants is None else invariants
        self.source = source

    def __repr__(self) -> str:
        return (
            f"Registry(milestones={self.milestones!r}, invariants={self.invariants!r}, "
            f"source={self.source!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Registry):
            return NotImplemented
        return (self.milestones, self.invariants, self.source) == (
            other.milestones,
            other.invariants,
            other.source,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it was

    def milestone_ids(self) -> list[str]:
        return [m.id for m in self.milestones]

    def add(self, invariant: Invariant) -> None:
        """Declare one more invariant (used by ``pytest_parity_registry_loaded`` hooks)."""
        if not ID_PATTERN.fullmatch(invariant.id):
            raise ParityError(f"{self.source}: invalid invariant ID {invariant.id!r}")
        if invariant.id in self.invariants:
            raise ParityError(f"{self.source}: invariant {invariant.id!r} is declared twice")
        if invariant.milestone not in self.milestone_ids():
            raise ParityError(
                f"{self.source}: invariant {invariant.id!r}: milestone "
                f"{invariant.milestone!r} is not declared"
            )
        self.invariants[invariant.id] = invariant

    def scope(self, gate: str) -> list[str]:
        """Milestone IDs a gate scope covers: ``all``, or every milestone up to ``gate``."""
        ids = self.milestone_ids()
        if gate == "all":
            return ids
        if gate not in ids:
            raise ParityError(
                f"--parity-gate: {gate!r} is neither 'all' nor a declared milestone "
                f"({', '.join(ids)})"
            )
        return ids[: ids.index(gate) + 1]

    # -- canonical form: what the report embeds and what the hash covers -----------------

    def to_data(self) -> dict[str, Any]:
        """A JSON-able form that keeps declared order (embedded in evidence reports).

        Every object's keys are in sorted order, as the canonical form of :meth:`sha256`
        has them, with ``id`` first: the report renders both from one JSON encoding.
        """
        return {
            "milestones": [{"id": m.id, "title": m.title} for m in self.milestones],
            "invariants": [
                {
                    "id": inv.id,
                    "milestone": inv.milestone,
                    "min_tests": inv.min_tests,
                    "tests": list(inv.tests),
                    "title": inv.title,
                    "waiver": None
                    if inv.waiver is None
                    else {"reason": inv.waiver.reason, "until": inv.waiver.until.isoformat()},
                }
                for inv in self.invariants.values()
            ],
        }

    def sha256(self) -> str:
        """Hash of the canonical content.

        Comments, whitespace, and the order of keys and of ``[invariants.*]`` tables do not
        change it; any declared value (including the order of milestones) does.
        """
        return data_sha256(self.to_data())


def data_sha256(data: Mapping[str, Any]) -> str:
    """:meth:`Registry.sha256` of the registry whose :meth:`Registry.to_data` is ``data``
    (for a caller that has ``data`` already)."""
    canonical = {**data, "invariants": sorted(data["invariants"], key=operator.itemgetter("id"))}
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


class TestRecord(NamedTuple):
    """One tagged test (one node ID) and what it did.

    ``invariants`` holds every declared invariant the test proves, from ``parity`` markers
    and registry ``tests`` globs, sorted and de-duplicated. ``milestones`` holds the
    milestones named with ``milestone=`` on its markers. (A NamedTuple: a big run makes one
    per test, and a tuple is several times cheaper to build than a frozen dataclass.)
    """

    nodeid: str
    outcome: Outcome
    invariants: tuple[str, ...] = ()
    milestones: tuple[str, ...] = ()


# not a pytest test class, despite its name
TestRecord.__test__ = False  # type: ignore[attr-defined]

#: sort key of TestRecords: their node ID (a C-level key: no Python call per record)
by_nodeid = operator.attrgetter("nodeid")
#: a TestRecord's outcome, for ``map`` (C-level)
outcome_of = operator.attrgetter("outcome")
#: TestRecords from rows ``(nodeid, outcome, invariants, milestones)`` of the right types,
#: for ``map``: C-level, without the Python-level ``__new__`` call per record a big run's
#: 5,000+ records would cost
record_from_row = functools.partial(tuple.__new__, TestRecord)


def merge_records(groups: Iterable[Iterable[TestRecord]]) -> dict[str, TestRecord]:
    """Union of test records by node ID; a test seen more than once: any failure wins."""
    merged: dict[str, TestRecord] = {}
    for group in groups:
        for rec in group:
            old = merged.get(rec.nodeid)
            if old is None:
                merged[rec.nodeid] = rec
            else:
                merged[rec.nodeid] = TestRecord(
                    rec.nodeid,
                    worst_outcome(old.outcome, rec.outcome),
                    tuple(sorted(set(old.invariants) | set(rec.invariants))),
                    tuple(sorted(set(old.milestones) | set(rec.milestones))),
                )
    return merged


class InvariantResult(NamedTuple):
    invariant: Invariant
    status: Status
    reason: str
    #: every test naming the invariant, sorted by node ID
    tests: tuple[TestRecord, ...] = ()
    #: the invariant had a waiver whose ``until`` date has passed
    waiver_expired: bool = False

    @property
    def proving(self) -> tuple[TestRecord, ...]:
        """The tests whose outcome counted towards the proof."""
        return tuple(t for t in self.tests if t.outcome in ("passed", "flaky"))


class Evidence:
    """The final per-invariant evidence of a run (or of merged reports)."""

    __slots__ = (
        "flaky",
        "incomplete",
        "records",
        "registry",
        "results",
        "stale_globs",
        "tags_lost",
        "today",
    )

    def __init__(
        self,
        registry: Registry,
        results: dict[str, InvariantResult],
        records: dict[str, TestRecord],
        flaky: FlakyPolicy = "fail",
        today: dt.date | None = None,
        incomplete: str | None = None,
        stale_globs: tuple[tuple[str, str], ...] = (),
        tags_lost: bool = False,
    ) -> None:
        self.registry = registry
        self.results = results
        self.records = records
        self.flaky: FlakyPolicy = flaky
        self.today = dt.datetime.now(dt.timezone.utc).date() if today is None else today
        #: why the run cannot vouch for its gate (``--collect-only``, stopped early,
        #: collection errors); ``None`` for a complete run
        self.incomplete = incomplete
        #: ``(invariant ID, glob)`` of registry ``tests`` globs that matched no collected test
        self.stale_globs = stale_globs
        #: the run could not tell which tests name which invariant (its pytest-xdist
        #: workers all died before reporting their collection)
        self.tags_lost = tags_lost

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _EVIDENCE_FIELDS)
        return f"Evidence({fields})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Evidence):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in _EVIDENCE_FIELDS)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it was


_EVIDENCE_FIELDS = (
    "registry",
    "results",
    "records",
    "flaky",
    "today",
    "incomplete",
    "stale_globs",
    "tags_lost",
)


class GateResult(NamedTuple):
    scope: str
    milestones: tuple[str, ...]
    passed: bool
    #: invariants in scope that are neither proven nor waived
    blocking: tuple[InvariantResult, ...]
    #: tests tagged ``milestone=`` for a milestone in scope that failed
    failed_suite_tests: tuple[TestRecord, ...]
    #: set when the gate could not be evaluated (the run is incomplete)
    not_evaluated: str | None = None
