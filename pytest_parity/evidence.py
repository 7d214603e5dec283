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
    plural,
    utc_today,
    worst_outcome,
)
from .tags import stale_globs

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

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
        #: per shared fixture instance, the (worker key, node ID) of the tests that used it
        self._users: dict[str, list[tuple[str, str]]] = {}
        #: per (worker key, node ID), the shared fixture instances not torn down yet
        self._pending: dict[tuple[str, str], set[str]] = {}
        #: the instances torn down so far, and whether cleanly (reports may come late)
        self._gone: dict[str, bool] = {}

    def add(
        self, nodeid: str, when: str, outcome: str, *, xfail: bool = False, worker: str = ""
    ) -> None:
        """Fold one report; ``xfail``: it carries ``wasxfail`` (an xfail or an xpass)."""
        states = self._states.setdefault(worker, {})
        state = states.get(nodeid, 0)
        if outcome == "rerun":  # the attempt starts afresh
            states[nodeid] = _RERUN
        elif outcome == "passed" and not xfail:
            states[nodeid] = state | _PHASE.get(when, 0)
        elif outcome in ("passed", "skipped"):  # a non-strict xpass never proves
            states[nodeid] = state | _SKIPPED
        else:  # failed, or an outcome we do not know: it cannot prove anything
            states[nodeid] = state | _FAILED

    def used(self, nodeid: str, fixtures: list[str], worker: str = "") -> None:
        """The test used these shared fixture instances."""
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
                    states = self._states.setdefault(worker, {})
                    states[nodeid] = states.get(nodeid, 0) | _FAILED

    def reached(self) -> set[str]:
        """The node IDs that any report was seen for."""
        return {nodeid for states in self._states.values() for nodeid in states}

    def outcome(self, nodeid: str) -> Outcome:
        """The outcome of one test (the worst over workers); ``not-run`` if unseen."""
        outcome: Outcome = "not-run"
        for worker, states in self._states.items():
            state = states.get(nodeid)
            if state is not None and self._pending.get((worker, nodeid)):
                state |= _FAILED  # a shared fixture it used was never torn down
            outcome = worst_outcome(outcome, _outcome(state))
        return outcome


def _names(records: Sequence[TestRecord]) -> str:
    shown = ", ".join(r.nodeid for r in records[:_REASON_NAMES])
    if len(records) > _REASON_NAMES:
        shown += f" and {len(records) - _REASON_NAMES} more"
    return shown


def _judge(
    inv: Invariant, tests: list[TestRecord], flaky: FlakyPolicy, today: dt.date, tags_lost: bool
) -> InvariantResult:
    """The status of one invariant from the tests that name it (sorted by node ID)."""
    waiver = inv.waiver
    expired = waiver is not None and not waiver.holds_on(today)
    expired_note = (
        f"; waiver expired on {waiver.until} ({waiver.reason})" if waiver and expired else ""
    )
    failed = [t for t in tests if t.outcome == "failed"]
    flaky_tests = [t for t in tests if t.outcome == "flaky"]
    passing = [
        t for t in tests if t.outcome == "passed" or (t.outcome == "flaky" and flaky == "allow")
    ]
    status: Status
    if failed or (flaky_tests and flaky == "fail"):
        status = "failed"
        parts = []
        if failed:
            parts.append(f"{plural(len(failed), 'test')} failed: {_names(failed)}")
        if flaky_tests and flaky == "fail":
            parts.append(
                f"{plural(len(flaky_tests), 'flaky test')} (passed only on rerun; "
                f"--parity-flaky=fail): {_names(flaky_tests)}"
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
        others = [t for t in tests if t.outcome in ("skipped", "not-run")]
        detail = ", ".join(
            f"{plural(n, 'test')} {outcome}"
            for outcome in ("skipped", "not-run")
            if (n := sum(1 for t in others if t.outcome == outcome))
        )
        needed = plural(inv.min_tests, "passing test")
        reason = (
            f"{len(passing)} of the {needed} it needs ({detail}: {_names(others)}){expired_note}"
        )
    return InvariantResult(inv, status, reason, tuple(tests), expired)


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
        rec
        for _, rec in sorted(evidence.records.items())
        if rec.outcome in bad and any(m in milestones for m in rec.milestones)
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
