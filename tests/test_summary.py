"""Unit tests for the terminal summary shared by the plugin and ``pytest-parity check``."""

from __future__ import annotations

import datetime as dt

import pytest

from pytest_parity.evidence import decide_gate, evaluate
from pytest_parity.model import Invariant, Milestone, Registry, TestRecord, Waiver, function_of
from pytest_parity.summary import gate_line, render_plan
from pytest_parity.summary import render_summary as render_lines


def render_summary(*args: object, **kwargs: object) -> list[str]:
    return [line.text for line in render_lines(*args, **kwargs)]  # type: ignore[arg-type]


TODAY = dt.date(2026, 11, 25)


def make_registry() -> Registry:
    reg = Registry([Milestone("M1", "Execution"), Milestone("M2")], source="parity.toml")
    reg.add(Invariant("A", "M1", "a title"))
    reg.add(Invariant("B", "M1", "b\ntitle"))
    reg.add(Invariant("W", "M2", "w", waiver=Waiver("ADR-1", dt.date(2027, 6, 30))))
    reg.add(Invariant("N", "M2", "n"))
    return reg


def records(*recs: tuple[str, str, tuple[str, ...], tuple[str, ...]]) -> dict[str, TestRecord]:
    return {r[0]: TestRecord(r[0], r[1], r[2], r[3]) for r in recs}  # type: ignore[arg-type]


def test_with_a_gate_every_invariant_in_scope_that_blocks_it_is_listed() -> None:
    recs = records(("t::a", "passed", ("A",), ()), ("t::b", "failed", ("B",), ()))
    ev = evaluate(make_registry(), recs, today=TODAY)
    lines = render_summary(ev, decide_gate(ev, "all"))
    assert lines == [
        "registry parity.toml: 4 invariants in 2 milestones",
        "M1 (Execution): 1 proven, 1 failed",
        "M2: 1 missing, 1 waived",
        "FAILED  B [M1]: 1 test failed: t::b",
        "WAIVED  W [M2]: waived: ADR-1 (until 2027-06-30)",
        "MISSING N [M2]: no collected test names it",
        "parity gate (all): FAILED, 2 invariants not proven",
    ]


def test_without_a_gate_only_failures_are_listed_and_one_line_hints_at_the_rest() -> None:
    recs = records(("t::b", "failed", ("B",), ()))
    ev = evaluate(make_registry(), recs, today=TODAY)
    lines = render_summary(ev, None)
    assert lines[3:] == [
        "FAILED  B [M1]: 1 test failed: t::b",
        "2 invariants not proven: -v lists them; --parity-gate judges them",
        "parity gate: off (use --parity-gate SCOPE to enforce)",
    ]


def test_outside_the_gates_scope_failures_still_show_the_rest_is_one_line() -> None:
    recs = records(("t::a", "passed", ("A", "B"), ()), ("t::w", "failed", ("W",), ()))
    ev = evaluate(make_registry(), recs, today=TODAY)
    lines = render_summary(ev, decide_gate(ev, "M1"))
    assert lines[3:] == [
        "FAILED  W [M2]: 1 test failed: t::w",
        "1 invariant outside the gate's scope not proven: -v lists them",
        "parity gate (M1): PASSED",
    ]


def test_quiet_keeps_only_what_fails_or_blocks() -> None:
    ev = evaluate(make_registry(), records(("t::a", "passed", ("A", "B", "N"), ())), today=TODAY)
    assert render_summary(ev, decide_gate(ev, "all"), verbosity=-1) == ["parity gate (all): PASSED"]


def test_a_run_that_cannot_vouch_says_why_in_one_line() -> None:
    ev = evaluate(make_registry(), {}, today=TODAY, incomplete="1 error during collection")
    lines = render_summary(ev, decide_gate(ev, "all"))
    assert lines[3:] == ["parity gate (all): NOT EVALUATED, 1 error during collection"]
    assert render_summary(ev, None)[-2] == "parity: incomplete run, 1 error during collection"


def test_verbose_lists_proofs_and_escapes_control_characters() -> None:
    recs = records(("t::a", "passed", ("A",), ()), ("t::x\x1b", "skipped", ("B",), ()))
    ev = evaluate(make_registry(), recs, today=TODAY)
    lines = render_summary(ev, None, verbosity=1)
    assert "PROVEN  A [M1]: a title" in lines
    assert "    passed  t::a" in lines
    assert "    b\\x0atitle" in lines
    assert "    skipped t::x\\x1b" in lines
    assert all("\n" not in line and "\x1b" not in line for line in lines)
    assert lines[-1] == "parity gate: off (use --parity-gate SCOPE to enforce)"


def test_reasons_and_parametrized_instances_are_grouped() -> None:
    reg = Registry([Milestone("M1")], source="parity.toml")
    reg.add(Invariant("T", "M1", "trio"))
    recs = {
        f"t.py::test_x[{i}]": TestRecord(f"t.py::test_x[{i}]", "skipped", ("T",), (), "no trio")
        for i in range(13)
    }
    ev = evaluate(reg, recs, today=TODAY)
    assert render_summary(ev, decide_gate(ev, "all"))[2] == (
        "NOT-RUN T [M1]: 13 tests skipped (no trio): t.py::test_x[*] (13 of 13)"
    )


def test_waivers_that_can_go_or_expire_soon_are_noted() -> None:
    reg = Registry([Milestone("M1")], source="parity.toml")
    reg.add(Invariant("GO", "M1", "g", waiver=Waiver("ADR-2", dt.date(2027, 1, 1))))
    reg.add(Invariant("SOON", "M1", "s", waiver=Waiver("ADR-3", dt.date(2026, 12, 4))))
    ev = evaluate(reg, records(("t::g", "passed", ("GO",), ())), today=TODAY)
    lines = render_summary(ev, None)
    assert "WAIVER  GO [M1]: proven anyway: the waiver (ADR-2, until 2027-01-01) can go" in lines
    assert "WAIVER  SOON [M1]: the waiver expires on 2026-12-04 (in 9 days)" in lines


def test_flaky_and_suite_failures_are_flagged() -> None:
    recs = records(("t::a", "flaky", ("A", "B"), ()), ("t::s", "failed", (), ("M2",)))
    ev = evaluate(make_registry(), recs, today=TODAY, flaky="allow")
    lines = render_summary(ev, decide_gate(ev, "M1"))
    assert "PROVEN  A [M1] [flaky]: proven by 1 passing test (1 flaky)" in lines
    assert any(
        line.startswith("flaky: 1 test passed only on rerun (allowed to prove") for line in lines
    )
    lines = render_summary(ev, decide_gate(ev, "M2"))
    assert "FAILED  milestone M2 suite test: t::s (failed)" in lines
    assert gate_line(decide_gate(ev, "M2")).text.endswith("1 milestone suite test failed")


def test_stale_globs_shown_with_a_gate_or_verbose_with_hints() -> None:
    reg = Registry([Milestone("M1")], source="parity.toml")
    reg.add(Invariant("A", "M1", "a", tests=("t::a", "t::gone")))
    ev = evaluate(reg, records(("t::a", "passed", ("A",), ())), today=TODAY)
    stale = "STALE   A [M1]: `tests` glob 't::gone' matches no collected test"
    assert stale in render_summary(ev, decide_gate(ev, "all"))
    assert stale in render_summary(ev, None, verbosity=1)
    assert stale not in render_summary(ev, None)
    hinted = render_summary(ev, decide_gate(ev, "all"), glob_hints={"t::gone": " (a hint)"})
    assert f"{stale} (a hint)" in hinted


def test_the_plan_counts_tests_by_marker_and_by_glob() -> None:
    reg = make_registry()
    recs = records(("t::a", "not-run", ("A",), ()), ("t::b", "not-run", ("A", "B"), ()))
    ev = evaluate(reg, recs, today=TODAY, incomplete="--collect-only: no test ran")
    lines = [line.text for line in render_plan(ev, {"t::b": {"A"}}, {"t::a", "t::b"})]
    assert lines[0] == "PLAN    A [M1]: 2 selected tests (1 by marker, 1 by glob)"
    assert "MISSING W [M2]: no collected test names it (waived until 2027-06-30)" in lines
    assert "MISSING N [M2]: no collected test names it" in lines
    assert lines[-1] == "plan: 2 of 4 invariants named by 2 selected tests; no test names W, N"
    assert [line.text for line in render_plan(ev, {}, {"t::a", "t::b"}, -1)] == [lines[-1]]
    only_a = [line.text for line in render_plan(ev, {}, {"t::a"})]
    assert "NOT-RUN B [M1]: only deselected tests name it (1)" in only_a


@pytest.mark.parametrize(
    ("nodeid", "function"),
    [
        ("t.py::test_y[1-a]", "t.py::test_y"),
        ("t.py::TestC::test_y[x]", "t.py::TestC::test_y"),
        ("t.py::test_p[a::b]", "t.py::test_p"),  # a parameter holding "::"
        ("t.py::test_plain", "t.py::test_plain"),
        ("rust/integration::parity_m1_x", "rust/integration::parity_m1_x"),
    ],
)
def test_the_function_of_a_node_id(nodeid: str, function: str) -> None:
    assert function_of(nodeid) == function
