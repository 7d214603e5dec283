"""The evidence model: per-test reports -> per-test outcomes -> per-invariant status -> gate.

Pure: nothing here imports pytest. The plugin feeds :class:`OutcomeTracker` with the
``(nodeid, when, outcome)`` of every report it sees; the CLI feeds :func:`evaluate` with the
records read back from evidence reports. Both then call :func:`decide_gate`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from .model import (
    OUTCOME_RANK,
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
)
from .registry import unmatched_globs

# Bits of the per-test state folded from its reports.
_SETUP = 1
_CALL = 2
_TEARDOWN = 4
_ALL_PHASES = _SETUP | _CALL | _TEARDOWN
_FAILED = 8
_SKIPPED = 16
_RERUN = 32
_PHASE_BIT = {"setup": _SETUP, "call": _CALL, "teardown": _TEARDOWN}


def _state_outcome(state: int | None) -> Outcome:
    if state is None:
        return "not-run"
    if state & _FAILED:
        return "failed"
    if state & _SKIPPED:
        return "skipped"
    if state & _ALL_PHASES == _ALL_PHASES:
        return "flaky" if state & _RERUN else "passed"
    return "not-run"


#: every folded state's outcome (a lookup instead of a call per test)
_OUTCOME_OF_STATE: dict[int | None, Outcome] = {
    state: _state_outcome(state) for state in (None, *range(_RERUN << 1))
}

#: how many test names a one-line reason lists before "and N more"
_REASON_NAMES = 5


class OutcomeTracker:
    """Folds the setup/call/teardown reports of each test into one :data:`Outcome`.

    Rules (contract section 3): any failed report (any phase, a failed subtest, a strict
    xpass, a crashed worker) fails the test; otherwise any skipped report (skip, xfail, a
    skipped subtest) or a non-strict xpass makes it skipped; it passed only when setup, call
    and teardown each reported ``passed``. A ``rerun`` report (pytest-rerunfailures) starts
    the test afresh and marks it: if the last attempt passed, the test is ``flaky``.

    Reports given with different ``worker`` keys (the plugin uses them for xdist's
    ``--dist each``, where every worker runs every test) are folded separately and combined
    at the end, so one worker's rerun never hides another worker's failure.
    """

    __slots__ = ("_by_worker", "_states", "per_worker")

    def __init__(self, *, per_worker: bool = False) -> None:
        #: whether :meth:`add_report` folds reports apart by their ``worker_id``
        self.per_worker = per_worker
        #: the states of reports given without a worker key (all of them, but under
        #: ``--dist each``): kept apart, as the hot path of every run
        self._states: dict[str, int] = {}
        self._by_worker: dict[str, dict[str, int]] = {"": self._states}

    def add_report(self, report: Any) -> None:
        """Fold one report: an object with ``nodeid``, ``when`` and ``outcome``, and a
        ``wasxfail`` attribute when it is an xfail's, like pytest's ``TestReport``; with
        ``per_worker``, under its ``worker_id`` (which pytest-xdist sets).

        The same fold as :meth:`add`, written out: the plugin registers this bound method
        itself as its ``pytest_runtest_logreport`` hook, the hot path of every run (three
        reports per test), so it is one Python call per report instead of two.
        """
        if self.per_worker:
            self.add(
                report.nodeid,
                report.when,
                report.outcome,
                hasattr(report, "wasxfail"),
                getattr(report, "worker_id", ""),
            )
            return
        states = self._states
        nodeid = report.nodeid
        outcome = report.outcome
        if outcome == "passed":
            states[nodeid] = states.get(nodeid, 0) | (
                _SKIPPED if hasattr(report, "wasxfail") else _PHASE_BIT.get(report.when, 0)
            )
        elif outcome == "skipped":
            states[nodeid] = states.get(nodeid, 0) | _SKIPPED
        elif outcome == "rerun":
            states[nodeid] = _RERUN
        else:  # failed, or an outcome we do not know: it cannot prove anything
            states[nodeid] = states.get(nodeid, 0) | _FAILED

    def add(
        self, nodeid: str, when: str, outcome: str, wasxfail: bool = False, worker: str = ""
    ) -> None:
        if worker:
            states = self._by_worker.get(worker)
            if states is None:
                states = self._by_worker[worker] = {}
        else:
            states = self._states
        if outcome == "passed":
            # a non-strict xpass reports "passed" with wasxfail: it never proves
            states[nodeid] = states.get(nodeid, 0) | (
                _SKIPPED if wasxfail else _PHASE_BIT.get(when, 0)
            )
        elif outcome == "skipped":
            states[nodeid] = states.get(nodeid, 0) | _SKIPPED
        elif outcome == "rerun":
            states[nodeid] = _RERUN
        else:  # failed, or an outcome we do not know: it cannot prove anything
            states[nodeid] = states.get(nodeid, 0) | _FAILED

    def outcome(self, nodeid: str) -> Outcome:
        """The outcome of one test; ``not-run`` if no report of it was seen."""
        return self.outcomes((nodeid,))[0]

    def outcomes(self, nodeids: Iterable[str]) -> list[Outcome]:
        """The outcomes of ``nodeids``, in order (one pass: the end of a big run asks for
        every tagged test)."""
        if len(self._by_worker) == 1:  # the usual case: one fold per test
            return [_OUTCOME_OF_STATE[state] for state in map(self._states.get, nodeids)]
        result: list[Outcome] = []
        for nodeid in nodeids:
            best: Outcome = "not-run"
            for states in self._by_worker.values():
                one = _OUTCOME_OF_STATE[states.get(nodeid)]
                if OUTCOME_RANK[one] > OUTCOME_RANK[best]:
                    best = one
            result.append(best)
        return result

    def __contains__(self, nodeid: object) -> bool:
        return any(nodeid in states for states in self._by_worker.values())


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
) -> Evidence:
    """Decide the status of every declared invariant from the tagged tests (section 3).

    Linear in the number of records plus invariants. Invariant IDs a record names that the
    registry does not declare are ignored (they cannot be in any gate).
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
            inv_id: _judge(registry, inv_id, tests, flaky, today)
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
