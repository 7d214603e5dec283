"""The data types every part of pytest-parity shares.

Nothing here knows about pytest. Data flows one way:
registry -> tagged tests (TestRecord) -> evidence (InvariantResult) -> gate / report / matrix.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

Outcome = Literal["passed", "failed", "skipped", "flaky", "not-run"]
"""What one test (one node ID) did in the run.

``not-run``: collected but deselected, or never reached. ``flaky``: failed first, then
passed on a rerun.
"""

Status = Literal["proven", "failed", "missing", "not-run", "waived"]
"""What the run decided for one declared invariant."""

FlakyPolicy = Literal["fail", "allow"]

OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
STATUSES: tuple[Status, ...] = get_args(Status)
FLAKY_POLICIES: tuple[FlakyPolicy, ...] = get_args(FlakyPolicy)

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")

#: A test seen more than once (shards, ``--dist each``) takes the outcome that says least
#: in its favour: any failure wins, then a flaky pass, a pass, a skip, "not run".
OUTCOME_RANK: dict[Outcome, int] = {
    "not-run": 0,
    "skipped": 1,
    "passed": 2,
    "flaky": 3,
    "failed": 4,
}


def worst_outcome(a: Outcome, b: Outcome) -> Outcome:
    """Combine two observations of one test: the one that says less in its favour wins."""
    return a if OUTCOME_RANK[a] >= OUTCOME_RANK[b] else b


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """``""``, or a message suffix `` (did you mean 'X'?)`` naming the closest candidates
    (at most ``n``, best first, equally close ones in the order given; case is ignored)."""
    by_folded: dict[str, str] = {}
    for candidate in candidates:
        by_folded.setdefault(candidate.casefold(), candidate)
    folded = name.casefold()
    order = list(by_folded)
    close = difflib.get_close_matches(folded, order, n=len(order) or 1)
    close.sort(key=lambda c: (-difflib.SequenceMatcher(None, folded, c).ratio(), order.index(c)))
    del close[n:]
    found = [f"'{by_folded[key]}'" for key in close]
    if len(found) > 1:
        found[-2:] = [f"{found[-2]} or {found[-1]}"]
    return f" (did you mean {', '.join(found)}?)" if found else ""


def function_of(nodeid: str) -> str:
    """The node ID without its parameters: ``t.py::test_y[1-a]`` -> ``t.py::test_y``.
    Parameters start at the first ``[`` after the path (they may hold ``::`` themselves)."""
    path, sep, rest = nodeid.partition("::")
    return path + sep + rest.partition("[")[0]


class Grouping:
    """Node IDs for people: several parametrized instances of one test function become
    one ``path::test[*] (k of n)``, with n counted among the tests given here (counted
    once, however many selections are then named)."""

    def __init__(self, among: Iterable[TestRecord]) -> None:
        self.function = {rec.nodeid: function_of(rec.nodeid) for rec in among}
        self.counts = Counter(self.function.values())

    def parts(self, selected: Sequence[TestRecord]) -> list[tuple[str, str, TestRecord]]:
        """``(node ID or path::test[*], " (k of n)" or "", the group's first test)`` for
        the selected tests, in their order."""
        by_function: dict[str, list[TestRecord]] = {}
        for rec in selected:
            function = self.function.get(rec.nodeid) or function_of(rec.nodeid)
            by_function.setdefault(function, []).append(rec)
        return [
            (f"{function}[*]", f" ({len(recs)} of {self.counts[function]})", recs[0])
            if len(recs) > 1
            else (recs[0].nodeid, "", recs[0])
            for function, recs in by_function.items()
        ]

    def names(self, selected: Sequence[TestRecord]) -> list[str]:
        return [name + count for name, count, _ in self.parts(selected)]


def grouped(selected: Sequence[TestRecord], among: Iterable[TestRecord]) -> list[str]:
    """``Grouping(among).names(selected)``: the selected tests' names, instances grouped."""
    return Grouping(among).names(selected)


def plural(n: int, word: str) -> str:
    """``1 test``, ``2 tests``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def visible(match: re.Match[str]) -> str:
    """A ``re.sub`` replacement that shows one character as the text ``\\xNN`` or
    ``\\uNNNN`` (for characters an output cannot hold: controls, lone surrogates)."""
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def report_timestamp() -> dt.datetime:
    """Now, in UTC; or ``SOURCE_DATE_EPOCH`` (seconds since the epoch) when it is set.

    An empty ``SOURCE_DATE_EPOCH`` counts as unset; any other value that is not a
    non-negative whole number is a :class:`ParityError`.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not raw:
        return dt.datetime.now(dt.timezone.utc)
    value = raw.strip()
    try:
        if not (value.isascii() and value.isdigit()):
            raise ValueError(value)
        return dt.datetime.fromtimestamp(int(value), tz=dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise ParityError(
            "SOURCE_DATE_EPOCH: expected a non-negative integer number of seconds since "
            f"1970-01-01 UTC, got {raw!r}"
        ) from None


class ParityError(Exception):
    """Bad user input (registry, marker, option, report file). The message is for humans."""


@dataclass(frozen=True, slots=True)
class Waiver:
    reason: str
    until: dt.date

    def holds_on(self, today: dt.date) -> bool:
        """A waiver holds through its ``until`` date and is expired from the day after."""
        return today <= self.until


@dataclass(frozen=True, slots=True)
class Milestone:
    id: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class Invariant:
    id: str
    milestone: str
    title: str
    min_tests: int = 1
    tests: tuple[str, ...] = ()
    waiver: Waiver | None = None
    #: the line of its declaration in the registry file, when known (not a declared value)
    line: int | None = field(default=None, compare=False)

    @property
    def content_sha256(self) -> str:
        """Hash of what it declares besides its ID and milestone: title, ``min_tests``,
        ``tests`` and waiver (a move to another milestone is not a redefinition)."""
        waiver = (
            None if self.waiver is None else [self.waiver.reason, self.waiver.until.isoformat()]
        )
        content = [self.title, self.min_tests, list(self.tests), waiver]
        return hashlib.sha256(json.dumps(content, ensure_ascii=True).encode()).hexdigest()


@dataclass
class Registry:
    """The declared milestones (ordered) and invariants (declared order)."""

    milestones: list[Milestone]
    invariants: dict[str, Invariant] = field(default_factory=dict)
    #: where it was read from (a file path, or a report that embeds it)
    source: str = "<registry>"
    #: the registry file, relative to the rootdir (``/``-separated), for links to the
    #: source; ``None`` when unknown
    file: str | None = None

    def milestone_ids(self) -> list[str]:
        return [m.id for m in self.milestones]

    def add(self, invariant: Invariant) -> None:
        """Declare one more invariant (``pytest_parity_registry_loaded`` hooks use this)."""
        if invariant.id in self.invariants:
            raise ParityError(f"{self.source}: invariant {invariant.id!r} is declared twice")
        if invariant.milestone not in self.milestone_ids():
            raise ParityError(
                f"{self.source}: invariant {invariant.id!r}: milestone "
                f"{invariant.milestone!r} is not declared"
            )
        self.invariants[invariant.id] = invariant

    def scope(self, gate: str, option: str = "--parity-gate") -> list[str]:
        """Milestone IDs a gate scope covers: ``all``, or every milestone up to ``gate``."""
        ids = self.milestone_ids()
        if gate == "all":
            return ids
        if gate not in ids:
            raise ParityError(
                f"{option}: {gate!r} is neither 'all' nor a declared milestone ({', '.join(ids)})"
            )
        return ids[: ids.index(gate) + 1]

    def to_data(self) -> dict[str, Any]:
        """The registry as JSON-able data in declared order (reports embed it)."""
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
        """Hash of the canonical content: comments, whitespace, and the order of keys and
        of ``[invariants.*]`` tables do not change it; any declared value does (the order
        of milestones too)."""
        data = self.to_data()
        data["invariants"].sort(key=lambda inv: inv["id"])
        text = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class TestRecord:
    """One tagged test (one node ID) and what it did.

    ``invariants``: every declared invariant the test names, from ``parity`` markers and
    registry ``tests`` globs, sorted and unique. ``milestones``: the milestones named with
    ``milestone=`` on its markers (their gate suites).
    """

    __test__ = False  # not a pytest test class, despite its name

    nodeid: str
    outcome: Outcome
    invariants: tuple[str, ...] = ()
    milestones: tuple[str, ...] = ()
    #: why it did not pass: the first line of its skip or failure message (short)
    reason: str = ""
    #: where the test is defined (pytest's ``item.location``), when known
    file: str | None = None
    line: int | None = None


def merge_records(groups: list[list[TestRecord]]) -> dict[str, TestRecord]:
    """Union of test records by node ID; a test seen more than once: any failure wins."""
    merged: dict[str, TestRecord] = {}
    for group in groups:
        for rec in group:
            old = merged.get(rec.nodeid)
            if old is not None:
                worst = rec if worst_outcome(old.outcome, rec.outcome) == rec.outcome else old
                rec = dataclasses.replace(
                    worst,
                    invariants=tuple(sorted({*old.invariants, *rec.invariants})),
                    milestones=tuple(sorted({*old.milestones, *rec.milestones})),
                    file=old.file or rec.file,
                    line=old.line or rec.line,
                )
            merged[rec.nodeid] = rec
    return merged


@dataclass(frozen=True, slots=True)
class InvariantResult:
    invariant: Invariant
    status: Status
    reason: str
    #: every test naming the invariant, sorted by node ID
    tests: tuple[TestRecord, ...] = ()
    #: the invariant had a waiver whose ``until`` date has passed
    waiver_expired: bool = False
    #: something to do about its waiver: it can go (proven anyway), or it expires soon
    waiver_note: str = ""

    @property
    def proving(self) -> tuple[TestRecord, ...]:
        """The tests whose outcome counted towards the proof."""
        return tuple(t for t in self.tests if t.outcome in ("passed", "flaky"))


@dataclass
class Evidence:
    """The final per-invariant evidence of a run (or of merged reports)."""

    registry: Registry
    results: dict[str, InvariantResult]
    records: dict[str, TestRecord]
    flaky: FlakyPolicy = "fail"
    today: dt.date = field(default_factory=utc_today)
    #: why the run cannot vouch for its gate (``--collect-only``, stopped early, ...);
    #: ``None`` for a complete run
    incomplete: str | None = None
    #: ``(invariant ID, glob)`` of registry ``tests`` globs that matched no collected test
    stale_globs: tuple[tuple[str, str], ...] = ()
    #: the run could not tell which tests name which invariant (its pytest-xdist workers
    #: all died before they reported their collection)
    tags_lost: bool = False


@dataclass(frozen=True, slots=True)
class GateResult:
    scope: str
    milestones: tuple[str, ...]
    passed: bool
    #: invariants in scope that are neither proven nor waived
    blocking: tuple[InvariantResult, ...]
    #: tests tagged ``milestone=`` for a milestone in scope that failed
    failed_suite_tests: tuple[TestRecord, ...]
    #: why the gate could not be evaluated (the run is incomplete), else ``None``
    not_evaluated: str | None = None

    @property
    def verdict(self) -> Literal["passed", "failed", "not-evaluated"]:
        if self.not_evaluated is not None:
            return "not-evaluated"
        return "passed" if self.passed else "failed"
