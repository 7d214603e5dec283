"""The evidence model: per-test reports -> per-test outcomes -> per-invariant status -> gate.

Pure: nothing here imports pytest. The plugin feeds :class:`OutcomeTracker` with the
``(nodeid, when, outcome)`` of every report it sees; the CLI feeds :func:`evaluate` with the
records read back from evidence reports. Both then call :func:`decide_gate`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from .model import (
    STATUSES,
    Evidence,
    FlakyPolicy,
    GateResult,
    InvariantResult,
    Outcome,
    Registry,
    Status,
    TestRecord,
    by_nodeid,
    gc_paused,
    outcome_of,
    worst_outcome,
)
from .registry import unmatched_globs

#: how many test names a one-line reason lists before "and N more"
_REASON_NAMES = 5


# What the reports of one test said so far, as bits of one int per test (an int per test
# costs the garbage collector nothing to scan, an object per test does, in every run).
_SETUP, _CALL, _TEARDOWN, _FAILED, _SKIPPED, _RERUN = (1 << n for n in range(6))
_PHASE = {"setup": _SETUP, "call": _CALL, "teardown": _TEARDOWN}
_ALL_PHASES = _SETUP | _CALL | _TEARDOWN


def _outcome(state: int | None) -> Outcome:
    if state is None:
        return "not-run"
    if state & _FAILED:
        return "failed"
    if state & _SKIPPED:
        return "skipped"
    if state & _ALL_PHASES == _ALL_PHASES:
        return "flaky" if state & _RERUN else "passed"
    return "not-run"


class OutcomeTracker:
    """Folds the setup/call/teardown reports of each test into one :data:`Outcome`.

    Rules: any failed report (any phase, a failed subtest, a strict xpass, a crashed
    worker) fails the test; otherwise any skipped report (skip, xfail, a skipped subtest)
    or a non-strict xpass makes it skipped; it passed only when setup, call and teardown
    each reported ``passed``. A ``rerun`` report (pytest-rerunfailures) starts the test
    afresh and marks it: if the last attempt passed, the test is ``flaky``.

    Reports given with different ``worker`` keys (the plugin uses them for xdist's
    ``--dist each``, where every worker runs every test) are folded separately and
    combined at the end, so one worker's rerun never hides another worker's failure.
    """

    def __init__(self) -> None:
        #: per worker key, per node ID, the bits its reports set
        self._states: dict[str, dict[str, int]] = {"": {}}

    def add(
        self, nodeid: str, when: str, outcome: str, *, xfail: bool = False, worker: str = ""
    ) -> None:
        """Fold one report; ``xfail``: it carries ``wasxfail`` (an xfail or an xpass)."""
        states = self._states.setdefault(worker, {}) if worker else self._states[""]
        state = states.get(nodeid, 0)
        if outcome == "rerun":  # the attempt starts afresh
            states[nodeid] = _RERUN
        elif outcome == "passed" and not xfail:
            states[nodeid] = state | _PHASE.get(when, 0)
        elif outcome in ("passed", "skipped"):  # a non-strict xpass never proves
            states[nodeid] = state | _SKIPPED
        else:  # failed, or an outcome we do not know: it cannot prove anything
            states[nodeid] = state | _FAILED

    def fail(self, nodeid: str, worker: str = "") -> None:
        """Fail a test after the fact (a shared fixture it used failed in teardown)."""
        states = self._states.setdefault(worker, {})
        states[nodeid] = states.get(nodeid, 0) | _FAILED

    def reached(self) -> set[str]:
        """The node IDs that any report was seen for."""
        return {nodeid for states in self._states.values() for nodeid in states}

    def outcome(self, nodeid: str) -> Outcome:
        """The outcome of one test (the worst over workers); ``not-run`` if unseen."""
        outcome: Outcome = "not-run"
        for states in self._states.values():
            outcome = worst_outcome(outcome, _outcome(states.get(nodeid)))
        return outcome


def _names(records: Iterable[TestRecord], limit: int = _REASON_NAMES) -> str:
    items = list(records)
    shown = ", ".join(r.nodeid for r in items[:limit])
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _judge(
    registry: Registry,
    inv_id: str,
    tests: list[TestRecord],
    flaky: FlakyPolicy,
    today: dt.date,
    tags_lost: bool,
) -> InvariantResult:
    inv = registry.invariants[inv_id]
    tests.sort(key=by_nodeid)
    waiver = inv.waiver
    waiver_expired = waiver is not None and not waiver.holds_on(today)
    expired_note = (
        f"; waiver expired on {waiver.until.isoformat()} ({waiver.reason})"
        if waiver is not None and waiver_expired
        else ""
    )
    failed: list[TestRecord] = []
    flaky_tests: list[TestRecord] = []
    passing = tests
    if list(map(outcome_of, tests)).count("passed") != len(tests):  # else: the usual case
        failed = [t for t in tests if t.outcome == "failed"]
        flaky_tests = [t for t in tests if t.outcome == "flaky"]
        passing = [t for t in tests if t.outcome in ("passed", "flaky")]
    status: Status
    if failed or (flaky_tests and flaky == "fail"):
        status = "failed"
        parts = []
        if failed:
            parts.append(f"{_plural(len(failed), 'test')} failed: {_names(failed)}")
        if flaky_tests and flaky == "fail":
            parts.append(
                f"{_plural(len(flaky_tests), 'flaky test')} (passed only on rerun; "
                f"--parity-flaky=fail): {_names(flaky_tests)}"
            )
        reason = "; ".join(parts)
    else:
        flaky_note = f" ({len(flaky_tests)} flaky)" if flaky_tests else ""
        if passing and len(passing) >= inv.min_tests:
            status = "proven"
            reason = f"proven by {_plural(len(passing), 'passing test')}{flaky_note}"
        elif waiver is not None and not waiver_expired:
            status = "waived"
            reason = f"waived: {waiver.reason} (until {waiver.until.isoformat()})"
        elif not tests and tags_lost:
            status = "not-run"
            reason = "no test is known to name it: the tags of the collected tests were lost"
        elif not tests:
            status = "missing"
            reason = "no collected test names it" + expired_note
        else:
            status = "not-run"
            others = [t for t in tests if t.outcome not in ("passed", "flaky")]
            detail = ", ".join(
                f"{_plural(n, 'test')} {o}"
                for o in ("skipped", "not-run")
                if (n := sum(1 for t in others if t.outcome == o))
            )
            reason = (
                f"{len(passing)} of the {inv.min_tests} passing "
                f"{'test' if inv.min_tests == 1 else 'tests'} it needs ({detail}: "
                f"{_names(others)}){expired_note}"
            )
    return InvariantResult(inv, status, reason, tuple(tests), waiver_expired)


def evaluate(
    registry: Registry,
    records: Mapping[str, TestRecord],
    *,
    flaky: FlakyPolicy = "fail",
    today: dt.date | None = None,
    incomplete: str | None = None,
    tags_lost: bool = False,
) -> Evidence:
    """Decide the status of every declared invariant from the tagged tests (section 3).

    Linear in the number of records plus invariants. Invariant IDs a record names that the
    registry does not declare are ignored (they cannot be in any gate). ``tags_lost``: the
    run could not tell which collected tests name which invariant (every pytest-xdist
    worker died before it reported its collection), so an invariant that no known test
    names is not-run rather than missing.
    """
    if today is None:
        today = dt.datetime.now(dt.timezone.utc).date()
    with gc_paused():  # a burst of small acyclic objects (see gc_paused)
        by_inv: dict[str, list[TestRecord]] = {inv_id: [] for inv_id in registry.invariants}
        bucket_of = by_inv.get
        for rec in records.values():
            for inv_id in rec[2]:  # rec.invariants, read in the tightest loop of a big run
                bucket = bucket_of(inv_id)
                if bucket is not None:
                    bucket.append(rec)
        results = {
            inv_id: _judge(registry, inv_id, tests, flaky, today, tags_lost)
            for inv_id, tests in by_inv.items()
        }
        stale = unmatched_globs(
            registry,
            {
                inv_id: [rec.nodeid for rec in by_inv[inv_id]]
                for inv_id, inv in registry.invariants.items()
                if inv.tests
            },
        )
        return Evidence(
            registry=registry,
            results=results,
            records=dict(records),
            flaky=flaky,
            today=today,
            incomplete=incomplete,
            stale_globs=tuple(stale),
            tags_lost=tags_lost,
        )


def decide_gate(evidence: Evidence, scope: str) -> GateResult:
    """The gate: every invariant of the milestones in scope is proven or waived.

    Tests tagged ``milestone=`` for a milestone in scope are that milestone's gate suite:
    if one failed (or was flaky under ``--parity-flaky=fail``), the gate fails too. An
    incomplete run is never reported as passing.
    """
    milestones = evidence.registry.scope(scope)
    in_scope = set(milestones)
    blocking = tuple(
        r
        for r in evidence.results.values()
        if r.invariant.milestone in in_scope and r.status not in ("proven", "waived")
    )
    bad_outcomes = {"failed", "flaky"} if evidence.flaky == "fail" else {"failed"}
    records = evidence.records.values()
    failed_suite = (
        tuple(
            sorted(
                (
                    rec
                    for rec in records
                    if rec.outcome in bad_outcomes and in_scope.intersection(rec.milestones)
                ),
                key=by_nodeid,
            )
        )
        # usually no test failed: found out in C, before a pass in Python
        if not bad_outcomes.isdisjoint(map(outcome_of, records))
        else ()
    )
    return GateResult(
        scope=scope,
        milestones=tuple(milestones),
        passed=not blocking and not failed_suite and evidence.incomplete is None,
        blocking=blocking,
        failed_suite_tests=failed_suite,
        not_evaluated=evidence.incomplete,
    )


def status_counts(evidence: Evidence) -> dict[str, dict[Status, int]]:
    """Per milestone (declared order), how many invariants have each status."""
    counts: dict[str, dict[Status, int]] = {
        m: dict.fromkeys(STATUSES, 0) for m in evidence.registry.milestone_ids()
    }
    for r in evidence.results.values():
        counts[r.invariant.milestone][r.status] += 1
    return counts
