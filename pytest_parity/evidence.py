"""Per-test reports -> per-test outcomes -> per-invariant statuses -> the gate.

Pure: nothing here imports pytest. The plugin feeds :class:`OutcomeTracker` with every
report it sees; the CLI feeds :func:`evaluate` with records read back from evidence
reports. Both then call :func:`decide_gate`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from .model import (
    STATUSES,
    Evidence,
    FlakyPolicy,
    GateResult,
    Invariant,
    InvariantResult,
    Outcome,
    Registry,
    Status,
    TestRecord,
    grouped,
    plural,
    utc_today,
    worst_outcome,
)
from .tags import stale_globs

if TYPE_CHECKING:
    from collections.abc import Mapping

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

    A test also fails when a shared (class, module, package, session) fixture instance it
    used was not torn down cleanly, or not at all (its worker died): :meth:`used` and
    :meth:`torn_down` say which instances (any unique strings) a test used and when they
    went.

    Reports given with different ``worker`` keys (the plugin uses them for xdist's
    ``--dist each``, where every worker runs every test) are folded separately and
    combined at the end, so one worker's rerun never hides another worker's failure.
    """

    def __init__(self) -> None:
        #: per worker key, per node ID, the bits its reports set
        self._states: dict[str, dict[str, int]] = {"": {}}
        #: why a test failed or was skipped, per (worker key, node ID)
        self._reasons: dict[tuple[str, str], str] = {}
        #: per shared fixture instance, the (worker key, node ID) of the tests that used it
        self._users: dict[str, list[tuple[str, str]]] = {}
        #: per (worker key, node ID), the shared fixture instances not torn down yet
        self._pending: dict[tuple[str, str], set[str]] = {}
        #: the instances torn down so far, and whether cleanly (reports may come late)
        self._gone: dict[str, bool] = {}

    def add(
        self,
        nodeid: str,
        when: str,
        outcome: str,
        *,
        xfail: bool = False,
        worker: str = "",
        reason: str = "",
    ) -> None:
        """Fold one report; ``xfail``: it carries ``wasxfail`` (an xfail or an xpass);
        ``reason``: the first line of its skip or failure message."""
        states = self._states.setdefault(worker, {})
        state = states.get(nodeid, 0)
        if outcome == "rerun":  # the attempt starts afresh
            states[nodeid] = _RERUN
            self._reasons.pop((worker, nodeid), None)
        elif outcome == "passed" and not xfail:
            states[nodeid] = state | _PHASE.get(when, 0)
        elif outcome in ("passed", "skipped"):  # a non-strict xpass never proves
            if not state & (_FAILED | _SKIPPED):
                self._reasons[worker, nodeid] = reason
            states[nodeid] = state | _SKIPPED
        else:  # failed, or an outcome we do not know: it cannot prove anything
            if not state & _FAILED:
                self._reasons[worker, nodeid] = reason
            states[nodeid] = state | _FAILED

    def used(self, nodeid: str, fixtures: list[str], worker: str = "") -> None:
        """The test used these shared fixture instances (named ``...:<fixture name>``)."""
        for fixture in fixtures:
            self._users.setdefault(fixture, []).append((worker, nodeid))
            self._pending.setdefault((worker, nodeid), set()).add(fixture)
            if fixture in self._gone:
                self.torn_down([fixture], clean=self._gone[fixture])

    def torn_down(self, fixtures: list[str], *, clean: bool) -> None:
        """These shared fixture instances were torn down; not ``clean``ly fails their users."""
        for fixture in fixtures:
            self._gone[fixture] = self._gone.get(fixture, True) and clean
            for worker, nodeid in self._users.pop(fixture, []):
                self._pending[worker, nodeid].discard(fixture)
                if not clean:
                    name = fixture.rpartition(":")[2]
                    self._fail(worker, nodeid, f"shared fixture '{name}' failed in teardown")

    def _fail(self, worker: str, nodeid: str, reason: str) -> None:
        states = self._states.setdefault(worker, {})
        if not states.get(nodeid, 0) & _FAILED:
            self._reasons[worker, nodeid] = reason
        states[nodeid] = states.get(nodeid, 0) | _FAILED

    def reached(self) -> set[str]:
        """The node IDs that any report was seen for."""
        return {nodeid for states in self._states.values() for nodeid in states}

    def result(self, nodeid: str) -> tuple[Outcome, str]:
        """The outcome of one test (the worst over workers; ``not-run`` if unseen) and why,
        for a test that failed or was skipped."""
        outcome: Outcome = "not-run"
        reason = ""
        for worker, states in self._states.items():
            for fixture in sorted(self._pending.get((worker, nodeid), ())):
                name = fixture.rpartition(":")[2]
                self._fail(worker, nodeid, f"shared fixture '{name}' was never torn down")
            state = states.get(nodeid)
            worst = worst_outcome(outcome, _outcome(state))
            if worst != outcome:
                outcome, reason = worst, self._reasons.get((worker, nodeid), "")
        return outcome, reason if outcome in ("failed", "skipped") else ""

    def outcome(self, nodeid: str) -> Outcome:
        return self.result(nodeid)[0]


#: a waiver this close to its end date gets a warning
_WAIVER_WARNING = dt.timedelta(days=14)
_WORDS = {
    "failed": "failed",
    "flaky": "flaky",
    "skipped": "skipped",
    "not-run": "not run (deselected or never reached)",
}


def _which(records: list[TestRecord], tests: list[TestRecord]) -> str:
    """``N tests <outcome> (<reason>): <names>`` for records of one outcome; parametrized
    instances are grouped, the shared reason is shown, at most 5 names are."""
    names = grouped(records, tests)
    shown = ", ".join(names[:_REASON_NAMES])
    if len(names) > _REASON_NAMES:
        shown += f" and {len(names) - _REASON_NAMES} more"
    reasons = {rec.reason for rec in records}
    why = f" ({reasons.pop()})" if len(reasons) == 1 and "" not in reasons else ""
    return f"{plural(len(records), 'test')} {_WORDS[records[0].outcome]}{why}: {shown}"


def _judge(
    inv: Invariant, tests: list[TestRecord], flaky: FlakyPolicy, today: dt.date, tags_lost: bool
) -> InvariantResult:
    """The status of one invariant from the tests that name it (sorted by node ID)."""
    waiver = inv.waiver
    expired = waiver is not None and not waiver.holds_on(today)
    expired_note = (
        f"; waiver expired on {waiver.until} ({waiver.reason})" if waiver and expired else ""
    )
    by_outcome: dict[str, list[TestRecord]] = {}
    for test in tests:
        by_outcome.setdefault(test.outcome, []).append(test)
    flaky_tests = by_outcome.get("flaky", [])
    passing = by_outcome.get("passed", []) + (flaky_tests if flaky == "allow" else [])
    status: Status
    if "failed" in by_outcome or (flaky_tests and flaky == "fail"):
        status = "failed"
        parts = [_which(by_outcome["failed"], tests)] if "failed" in by_outcome else []
        if flaky_tests and flaky == "fail":
            parts.append(
                f"{_which(flaky_tests, tests)} (passed only on a rerun; --parity-flaky=fail)"
            )
        reason = "; ".join(parts)
    elif len(passing) >= inv.min_tests:
        status = "proven"
        flaky_note = f" ({len(flaky_tests)} flaky)" if flaky_tests else ""
        reason = f"proven by {plural(len(passing), 'passing test')}{flaky_note}"
    elif waiver is not None and not expired:
        status = "waived"
        reason = f"waived: {waiver.reason} (until {waiver.until})"
    elif not tests and tags_lost:
        status = "not-run"
        reason = "no test is known to name it: the tags of the collected tests were lost"
    elif not tests:
        status = "missing"
        reason = "no collected test names it" + expired_note
    else:
        status = "not-run"
        parts = [_which(by_outcome[o], tests) for o in ("skipped", "not-run") if o in by_outcome]
        if passing or inv.min_tests > 1:
            parts.insert(
                0, f"{len(passing)} of the {plural(inv.min_tests, 'passing test')} it needs"
            )
        reason = "; ".join(parts) + expired_note
    note = ""
    if waiver is not None and not expired and status == "proven":
        note = f"proven anyway: the waiver ({waiver.reason}, until {waiver.until}) can go"
    elif waiver is not None and not expired and waiver.until - today < _WAIVER_WARNING:
        days = (waiver.until - today).days
        when = "today" if days == 0 else f"in {plural(days, 'day')}"
        note = f"the waiver expires on {waiver.until} ({when})"
    return InvariantResult(inv, status, reason, tuple(tests), expired, note)


def evaluate(
    registry: Registry,
    records: Mapping[str, TestRecord],
    *,
    flaky: FlakyPolicy = "fail",
    today: dt.date | None = None,
    incomplete: str | None = None,
    tags_lost: bool = False,
) -> Evidence:
    """Decide the status of every declared invariant from the tagged tests.

    Invariant IDs a record names that the registry does not declare are ignored (they
    cannot be in any gate). ``tags_lost``: the run could not tell which collected tests
    name which invariant, so an invariant no known test names is not-run, not missing.
    """
    by_invariant: dict[str, list[TestRecord]] = {inv_id: [] for inv_id in registry.invariants}
    for rec in sorted(records.values(), key=lambda r: r.nodeid):
        for inv_id in rec.invariants:
            if inv_id in by_invariant:
                by_invariant[inv_id].append(rec)
    today = utc_today() if today is None else today
    results = {
        inv_id: _judge(registry.invariants[inv_id], tests, flaky, today, tags_lost)
        for inv_id, tests in by_invariant.items()
    }
    nodeids = {inv_id: [t.nodeid for t in tests] for inv_id, tests in by_invariant.items()}
    return Evidence(
        registry=registry,
        results=results,
        records=dict(records),
        flaky=flaky,
        today=today,
        incomplete=incomplete,
        stale_globs=tuple(stale_globs(registry, nodeids)),
        tags_lost=tags_lost,
    )


def decide_gate(evidence: Evidence, scope: str, option: str = "--parity-gate") -> GateResult:
    """The gate: every invariant of the milestones in scope is proven or waived.

    Tests tagged ``milestone=`` for a milestone in scope are that milestone's gate suite:
    if one failed (or was flaky under ``--parity-flaky=fail``), the gate fails too. An
    incomplete run is never reported as passing.
    """
    milestones = evidence.registry.scope(scope, option)
    blocking = tuple(
        r
        for r in evidence.results.values()
        if r.invariant.milestone in milestones and r.status not in ("proven", "waived")
    )
    bad: tuple[Outcome, ...] = ("failed", "flaky") if evidence.flaky == "fail" else ("failed",)
    failed_suite = tuple(
        sorted(
            (
                rec
                for rec in evidence.records.values()
                if rec.outcome in bad and any(m in milestones for m in rec.milestones)
            ),
            key=lambda rec: rec.nodeid,
        )
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
    counts = {m: dict.fromkeys(STATUSES, 0) for m in evidence.registry.milestone_ids()}
    for result in evidence.results.values():
        counts[result.invariant.milestone][result.status] += 1
    return counts
