"""Unit tests for the pure evidence model: outcomes, statuses, the gate."""

from __future__ import annotations

import datetime as dt

import pytest

from pytest_parity.evidence import OutcomeTracker, decide_gate, evaluate, status_counts
from pytest_parity.model import (
    Evidence,
    Invariant,
    Milestone,
    ParityError,
    Registry,
    TestRecord,
    Waiver,
    merge_records,
    worst_outcome,
)
from pytest_parity.registry import registry_from_data

TODAY = dt.date(2026, 11, 25)


def fold(*reports: tuple[str, str], wasxfail: bool = False) -> str:
    tracker = OutcomeTracker()
    for when, outcome in reports:
        tracker.add("t.py::test", when, outcome, xfail=wasxfail and when == "call")
    return tracker.outcome("t.py::test")


PASS3 = (("setup", "passed"), ("call", "passed"), ("teardown", "passed"))


class TestOutcomeTracker:
    def test_all_three_phases_passed(self) -> None:
        assert fold(*PASS3) == "passed"

    def test_missing_teardown_is_not_a_pass(self) -> None:
        assert fold(("setup", "passed"), ("call", "passed")) == "not-run"

    def test_a_fixture_reported_used_after_its_failed_teardown_fails_the_test(self) -> None:
        # under xdist a teardown report may come before the report that names its user
        tracker = OutcomeTracker()
        for when, outcome in PASS3:
            tracker.add("t.py::a", when, outcome)
        tracker.torn_down(["t.py:res"], clean=False)
        tracker.used("t.py::a", ["t.py:res"])
        assert tracker.result("t.py::a") == ("failed", "shared fixture 'res' failed in teardown")

    def test_unseen_test_is_not_run(self) -> None:
        tracker = OutcomeTracker()
        assert tracker.outcome("nope") == "not-run"
        assert "nope" not in tracker.reached()

    @pytest.mark.parametrize("phase", ["setup", "call", "teardown"])
    def test_failure_in_any_phase_fails(self, phase: str) -> None:
        reports = [(w, "failed" if w == phase else "passed") for w, _ in PASS3]
        assert fold(*reports) == "failed"

    def test_teardown_error_after_passing_call_fails(self) -> None:
        assert fold(("setup", "passed"), ("call", "passed"), ("teardown", "failed")) == "failed"

    def test_skip_in_setup(self) -> None:
        assert fold(("setup", "skipped"), ("teardown", "passed")) == "skipped"

    def test_xfail_is_skipped(self) -> None:
        reports = (("setup", "passed"), ("call", "skipped"), ("teardown", "passed"))
        assert fold(*reports, wasxfail=True) == "skipped"

    def test_non_strict_xpass_never_proves(self) -> None:
        assert fold(*PASS3, wasxfail=True) == "skipped"

    def test_failed_subtest_beats_passing_call(self) -> None:
        reports = (
            ("setup", "passed"),
            ("call", "failed"),  # the subtest report
            ("call", "passed"),
            ("teardown", "passed"),
        )
        assert fold(*reports) == "failed"

    def test_skipped_subtest_makes_test_skipped(self) -> None:
        reports = (
            ("setup", "passed"),
            ("call", "skipped"),
            ("call", "passed"),
            ("teardown", "passed"),
        )
        assert fold(*reports) == "skipped"

    def test_rerun_then_pass_is_flaky(self) -> None:
        reports = (("setup", "passed"), ("call", "rerun"), *PASS3)
        assert fold(*reports) == "flaky"

    def test_rerun_then_fail_is_failed(self) -> None:
        reports = (("setup", "passed"), ("call", "rerun"), ("setup", "passed"), ("call", "failed"))
        assert fold(*reports) == "failed"

    def test_crashed_worker_report_fails(self) -> None:
        assert fold(("setup", "passed"), ("???", "failed")) == "failed"

    def test_unknown_outcome_cannot_prove(self) -> None:
        assert fold(*PASS3, ("call", "weird")) == "failed"

    def test_workers_fold_separately(self) -> None:
        # --dist each: a rerun on one worker must not wipe another worker's failure
        tracker = OutcomeTracker()
        tracker.add("t", "setup", "passed", worker="gw0")
        tracker.add("t", "call", "failed", worker="gw0")
        tracker.add("t", "call", "rerun", worker="gw1")
        for when, outcome in PASS3:
            tracker.add("t", when, outcome, worker="gw1")
        assert tracker.outcome("t") == "failed"
        assert tracker.reached() == {"t"}

    def test_workers_combine_like_shards(self) -> None:
        tracker = OutcomeTracker()
        for when, outcome in PASS3:
            tracker.add("t", when, outcome, worker="gw0")
        tracker.add("t", "setup", "skipped", worker="gw1")
        tracker.add("u", "setup", "passed", worker="gw1")
        # one worker passed it, another skipped it: it passed (as a merge of shards would)
        assert tracker.outcome("t") == "passed"
        assert tracker.outcome("u") == "not-run"

    def test_shared_fixtures_must_be_torn_down_cleanly(self) -> None:
        tracker = OutcomeTracker()
        for nodeid in ("clean", "dirty", "never", "unused"):
            for when, outcome in PASS3:
                tracker.add(nodeid, when, outcome)
        tracker.used("clean", ["1:db"])
        tracker.used("dirty", ["2:res", "1:db"])
        tracker.used("never", ["3:lost"])
        tracker.torn_down(["1:db"], clean=True)
        tracker.torn_down(["2:res"], clean=False)  # reported on another test
        assert tracker.outcome("clean") == "passed"
        assert tracker.outcome("dirty") == "failed"
        assert tracker.outcome("never") == "failed"  # its worker died: never torn down
        assert tracker.outcome("unused") == "passed"

    @pytest.mark.parametrize("worker", ["", "gw0"])
    def test_outcomes_and_reached(self, worker: str) -> None:
        tracker = OutcomeTracker()
        for when, outcome in PASS3:
            tracker.add("p", when, outcome, worker=worker)
        tracker.add("f", "call", "failed", worker=worker)
        tracker.add("s", "setup", "skipped", worker=worker)
        tracker.add("r", "call", "rerun", worker=worker)
        for when, outcome in PASS3:
            tracker.add("r", when, outcome, worker=worker)
        asked = ["unseen", "s", "p", "r", "f"]
        expected = ["not-run", "skipped", "passed", "flaky", "failed"]
        assert [tracker.outcome(n) for n in asked] == expected
        assert tracker.reached() == {"s", "p", "r", "f"}


def registry(*invariants: Invariant, milestones: tuple[str, ...] = ("M1", "M2", "M3")) -> Registry:
    reg = Registry([Milestone(m) for m in milestones], source="parity.toml")
    for inv in invariants:
        reg.add(inv)
    return reg


def rec(nodeid: str, outcome: str, *invs: str, milestones: tuple[str, ...] = ()) -> TestRecord:
    return TestRecord(nodeid, outcome, tuple(invs), milestones)  # type: ignore[arg-type]


def status_of(reg: Registry, *records: TestRecord, flaky: str = "fail") -> dict[str, str]:
    ev = evaluate(reg, {r.nodeid: r for r in records}, flaky=flaky, today=TODAY)  # type: ignore[arg-type]
    return {k: r.status for k, r in ev.results.items()}


A = Invariant("A", "M1", "a")


class TestStatuses:
    def test_proven(self) -> None:
        assert status_of(registry(A), rec("t1", "passed", "A")) == {"A": "proven"}

    def test_any_failure_fails_even_with_passes(self) -> None:
        got = status_of(registry(A), rec("t1", "passed", "A"), rec("t2", "failed", "A"))
        assert got == {"A": "failed"}

    def test_missing_when_no_test_names_it(self) -> None:
        assert status_of(registry(A), rec("t1", "passed", "OTHER")) == {"A": "missing"}

    @pytest.mark.parametrize("outcome", ["skipped", "not-run"])
    def test_not_run(self, outcome: str) -> None:
        assert status_of(registry(A), rec("t1", outcome, "A")) == {"A": "not-run"}

    def test_min_tests_counts_distinct_passing_tests(self) -> None:
        inv = Invariant("A", "M1", "a", min_tests=2)
        assert status_of(registry(inv), rec("t1", "passed", "A")) == {"A": "not-run"}
        got = status_of(registry(inv), rec("t1", "passed", "A"), rec("t2", "passed", "A"))
        assert got == {"A": "proven"}

    def test_flaky_fails_by_default_and_proves_when_allowed(self) -> None:
        reg = registry(A)
        assert status_of(reg, rec("t1", "flaky", "A")) == {"A": "failed"}
        assert status_of(reg, rec("t1", "flaky", "A"), flaky="allow") == {"A": "proven"}

    def test_waiver_holds_through_until_date(self) -> None:
        inv = Invariant("A", "M1", "a", waiver=Waiver("ADR-1", TODAY))
        assert status_of(registry(inv)) == {"A": "waived"}

    def test_expired_waiver_waives_nothing(self) -> None:
        inv = Invariant("A", "M1", "a", waiver=Waiver("ADR-1", TODAY - dt.timedelta(days=1)))
        ev = evaluate(registry(inv), {}, today=TODAY)
        result = ev.results["A"]
        assert result.status == "missing"
        assert result.waiver_expired
        assert "expired" in result.reason
        ev2 = evaluate(registry(inv), {"t": rec("t", "skipped", "A")}, today=TODAY)
        assert ev2.results["A"].status == "not-run"
        assert "expired" in ev2.results["A"].reason

    def test_failure_beats_waiver(self) -> None:
        inv = Invariant("A", "M1", "a", waiver=Waiver("ADR-1", TODAY))
        assert status_of(registry(inv), rec("t1", "failed", "A")) == {"A": "failed"}

    def test_proof_beats_waiver(self) -> None:
        inv = Invariant("A", "M1", "a", waiver=Waiver("ADR-1", TODAY))
        assert status_of(registry(inv), rec("t1", "passed", "A")) == {"A": "proven"}

    def test_reasons_name_tests_and_truncate(self) -> None:
        records = {f"t{i}": rec(f"t{i}", "failed", "A") for i in range(7)}
        result = evaluate(registry(A), records, today=TODAY).results["A"]
        assert result.reason.startswith("7 tests failed: t0, t1, t2, t3, t4 and 2 more")
        assert [t.nodeid for t in result.tests] == sorted(records)

    def test_flaky_reason_mentions_policy(self) -> None:
        result = evaluate(registry(A), {"t": rec("t", "flaky", "A")}, today=TODAY).results["A"]
        assert "flaky" in result.reason
        assert "--parity-flaky=fail" in result.reason

    def test_undeclared_ids_in_records_are_ignored(self) -> None:
        ev = evaluate(registry(A), {"t": rec("t", "passed", "A", "GONE")}, today=TODAY)
        assert list(ev.results) == ["A"]

    def test_results_keep_declared_order_and_counts(self) -> None:
        reg = registry(Invariant("Z", "M2", "z"), A, Invariant("B", "M1", "b"))
        ev = evaluate(reg, {"t": rec("t", "passed", "A")}, today=TODAY)
        assert list(ev.results) == ["Z", "A", "B"]
        counts = status_counts(ev)
        assert list(counts) == ["M1", "M2", "M3"]
        assert counts["M1"]["proven"] == 1
        assert counts["M1"]["missing"] == 1
        assert counts["M2"]["missing"] == 1
        assert sum(counts["M3"].values()) == 0

    def test_today_defaults_to_utc_date(self) -> None:
        ev = evaluate(registry(A), {})
        assert ev.today == dt.datetime.now(dt.timezone.utc).date()


class TestGate:
    def reg(self) -> Registry:
        return registry(A, Invariant("B", "M2", "b"), Invariant("C", "M3", "c"))

    def test_scope_is_cumulative(self) -> None:
        ev = evaluate(self.reg(), {"t": rec("t", "passed", "A")}, today=TODAY)
        assert decide_gate(ev, "M1").passed
        gate = decide_gate(ev, "M2")
        assert not gate.passed
        assert gate.milestones == ("M1", "M2")
        assert [r.invariant.id for r in gate.blocking] == ["B"]
        assert [r.invariant.id for r in decide_gate(ev, "all").blocking] == ["B", "C"]

    def test_unknown_scope_is_an_error(self) -> None:
        ev = evaluate(self.reg(), {}, today=TODAY)
        with pytest.raises(ParityError, match="'tests/' is neither 'all' nor a declared"):
            decide_gate(ev, "tests/")

    def test_waived_passes_gate(self) -> None:
        reg = registry(Invariant("A", "M1", "a", waiver=Waiver("r", TODAY)))
        assert decide_gate(evaluate(reg, {}, today=TODAY), "all").passed

    def test_incomplete_run_never_passes(self) -> None:
        ev = evaluate(registry(A), {"t": rec("t", "passed", "A")}, today=TODAY, incomplete="x")
        gate = decide_gate(ev, "all")
        assert not gate.passed
        assert gate.not_evaluated == "x"

    def test_failed_milestone_suite_test_fails_gate(self) -> None:
        records = {
            "t": rec("t", "passed", "A"),
            "s": rec("s", "failed", milestones=("M2",)),
        }
        ev = evaluate(registry(A), records, today=TODAY)
        assert decide_gate(ev, "M1").passed
        gate = decide_gate(ev, "M2")
        assert not gate.passed
        assert [r.nodeid for r in gate.failed_suite_tests] == ["s"]

    def test_flaky_suite_test_depends_on_policy(self) -> None:
        records = {"s": rec("s", "flaky", milestones=("M1",))}
        reg = registry()
        assert not decide_gate(evaluate(reg, records, today=TODAY), "all").passed
        ev = evaluate(reg, records, today=TODAY, flaky="allow")
        assert decide_gate(ev, "all").passed


class TestMerge:
    def test_any_failure_wins(self) -> None:
        merged = merge_records(
            [
                [rec("t", "passed", "A"), rec("u", "not-run", "A")],
                [rec("t", "failed", "A"), rec("u", "passed", "B")],
            ]
        )
        assert merged["t"].outcome == "failed"
        assert merged["u"].outcome == "passed"
        assert merged["u"].invariants == ("A", "B")

    @pytest.mark.parametrize(
        ("a", "b", "expected"),
        [
            ("passed", "flaky", "flaky"),
            ("skipped", "passed", "passed"),
            ("not-run", "skipped", "skipped"),
            ("failed", "flaky", "failed"),
        ],
    )
    def test_worst_outcome(self, a: str, b: str, expected: str) -> None:
        assert worst_outcome(a, b) == expected  # type: ignore[arg-type]
        assert worst_outcome(b, a) == expected  # type: ignore[arg-type]


INV = {"id": "A", "milestone": "M1", "title": "a"}


class TestRegistryModel:
    def test_add_rejects_duplicates_and_unknown_milestones(self) -> None:
        reg = registry(A)
        with pytest.raises(ParityError, match="declared twice"):
            reg.add(Invariant("A", "M1", "x"))
        with pytest.raises(ParityError, match="'M9' is not declared"):
            reg.add(Invariant("X", "M9", "x"))

    def test_data_round_trip(self) -> None:
        reg = registry(A, Invariant("W", "M2", "w", 2, ("a::*",), Waiver("why", TODAY)))
        again = registry_from_data(reg.to_data(), "copy")
        assert again.to_data() == reg.to_data()
        assert again.sha256() == reg.sha256()

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({}, "invariants: expected an array"),
            ([], "expected a JSON object"),
            ({"milestones": 3, "invariants": []}, "milestones: expected an array"),
            ({"milestones": ["M1"], "invariants": {}}, "invariants: expected an array"),
            ({"milestones": ["M1"], "invariants": [3]}, r"invariants\[0\]: expected an object"),
            ({"milestones": ["M1"], "invariants": [INV, INV]}, "'A' is declared twice"),
            ({"milestones": ["M1"], "invariants": [{**INV, "min_tests": 1e999}]}, "min_tests"),
            ({"milestones": ["M1"], "invariants": [{**INV, "min_tests": True}]}, "min_tests"),
            ({"milestones": ["M1"], "invariants": [{**INV, "min_tests": 1.5}]}, "min_tests"),
            ({"milestones": ["M1"], "invariants": [{**INV, "extra": 1}]}, "unknown key"),
            ({"milestones": ["M1"], "invariants": [{**INV, "waiver": {"reason": "r"}}]}, "until"),
        ],
    )
    def test_embedded_registry_is_validated_like_toml(self, data: object, message: str) -> None:
        with pytest.raises(ParityError, match=f"^r.xml: .*{message}"):
            registry_from_data(data, "r.xml")


class TestStaleGlobs:
    def test_globs_matching_no_tagged_test_are_reported(self) -> None:
        reg = registry(
            Invariant("A", "M1", "a", tests=("t.py::test_a*", "gone.py::*")),
            Invariant("B", "M1", "b", tests=("t.py::test_b",)),
            Invariant("C", "M1", "c"),
        )
        ev = evaluate(reg, {"t.py::test_a1": rec("t.py::test_a1", "passed", "A")}, today=TODAY)
        assert ev.results["A"].status == "proven"
        assert ev.stale_globs == (("A", "gone.py::*"), ("B", "t.py::test_b"))

    def test_no_globs_no_stale(self) -> None:
        assert evaluate(registry(A), {}, today=TODAY).stale_globs == ()


class TestModelObjects:
    """Registry and Evidence compare by value and show their fields, as the hooks' users
    would expect of plain data objects."""

    def test_registry_equality_and_repr(self) -> None:
        a = registry(Invariant("A-1", "M1", "one"))
        b = registry(Invariant("A-1", "M1", "one"))
        assert a == b
        b.add(Invariant("B-2", "M1", "two"))
        assert a != b
        assert repr(a).startswith("Registry(milestones=[Milestone(id='M1', title='')")
        assert "source='parity.toml'" in repr(a)
        with pytest.raises(TypeError):
            hash(a)

    def test_evidence_equality_and_repr(self) -> None:
        reg = registry(Invariant("A-1", "M1", "one"))
        records = {"t.py::a": rec("t.py::a", "passed", "A-1")}
        first = evaluate(reg, records, today=TODAY)
        second = evaluate(reg, records, today=TODAY)
        assert first == second
        assert first != evaluate(reg, records, today=TODAY, incomplete="stopped")
        assert repr(first).startswith("Evidence(registry=Registry(")
        assert "incomplete=None" in repr(first)
        with pytest.raises(TypeError):
            hash(first)

    def test_evidence_today_defaults_to_the_utc_date(self) -> None:
        before = dt.datetime.now(dt.timezone.utc).date()
        ev = Evidence(registry(), {}, {})
        after = dt.datetime.now(dt.timezone.utc).date()  # the run may cross midnight
        assert ev.today in (before, after)
