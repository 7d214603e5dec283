"""Unit tests for the terminal summary shared by the plugin and ``pytest-parity check``."""

from __future__ import annotations

import datetime as dt

from pytest_parity.evidence import decide_gate, evaluate
from pytest_parity.model import Invariant, Milestone, Registry, TestRecord, Waiver
from pytest_parity.summary import gate_line
from pytest_parity.summary import render_summary as render_lines


def render_summary(*args: object, **kwargs: object) -> list[str]:
    return [line.text for line in render_lines(*args, **kwargs)]  # type: ignore[arg-type]


TODAY = dt.date(2026, 11, 25)


def make_registry() -> Registry:
    reg = Registry([Milestone("M1", "Execution"), Milestone("M2")], source="parity.toml")
    reg.add(Invariant("A", "M1", "a title"))
    reg.add(Invariant("B", "M1", "b\ntitle"))
    reg.add(Invariant("W", "M2", "w", waiver=Waiver("ADR-1", TODAY)))
    return reg


def records(*recs: tuple[str, str, tuple[str, ...], tuple[str, ...]]) -> dict[str, TestRecord]:
    return {r[0]: TestRecord(r[0], r[1], r[2], r[3]) for r in recs}  # type: ignore[arg-type]


def test_default_verbosity_counts_and_not_proven_lines() -> None:
    ev = evaluate(
        make_registry(),
        records(("t::a", "passed", ("A",), ()), ("t::b", "failed", ("B",), ())),
        today=TODAY,
    )
    lines = render_summary(ev, decide_gate(ev, "all"))
    assert lines == [
        "registry parity.toml: 3 invariants in 2 milestones",
        "M1 (Execution): 1 proven, 1 failed",
        "M2: 1 waived",
        "FAILED  B [M1]: 1 test failed: t::b",
        "WAIVED  W [M2]: waived: ADR-1 (until 2026-11-25)",
        "parity gate (all: M1, M2): FAILED, 1 invariant not proven",
    ]


def test_quiet_keeps_only_what_is_not_proven() -> None:
    ev = evaluate(make_registry(), records(("t::a", "passed", ("A", "B"), ())), today=TODAY)
    assert render_summary(ev, decide_gate(ev, "all"), verbosity=-1) == [
        "parity gate (all: M1, M2): PASSED"
    ]


def test_verbose_lists_proofs_and_escapes_control_characters() -> None:
    ev = evaluate(
        make_registry(),
        records(("t::a", "passed", ("A",), ()), ("t::x\x1b", "skipped", ("B",), ())),
        today=TODAY,
    )
    lines = render_summary(ev, None, verbosity=1)
    assert "PROVEN  A [M1]: a title" in lines
    assert "    passed  t::a" in lines
    assert "    b\\x0atitle" in lines
    assert "    skipped t::x\\x1b" in lines
    assert all("\n" not in line and "\x1b" not in line for line in lines)
    assert lines[-1] == "parity gate: off (use --parity-gate SCOPE to enforce)"


def test_flaky_and_suite_failures_are_flagged() -> None:
    recs = records(
        ("t::a", "flaky", ("A", "B"), ()),
        ("t::s", "failed", (), ("M2",)),
    )
    ev = evaluate(make_registry(), recs, today=TODAY, flaky="allow")
    lines = render_summary(ev, decide_gate(ev, "M2"))
    assert "PROVEN  A [M1] [flaky]: proven by 1 passing test (1 flaky)" in lines
    assert "FAILED  milestone M2 suite test: t::s (failed)" in lines
    assert any(
        line.startswith("flaky: 1 test passed only on rerun (allowed to prove") for line in lines
    )
    assert lines[-1] == "parity gate (M2: M1, M2): FAILED, 1 milestone suite test failed"


def test_incomplete_run_without_gate_says_so() -> None:
    ev = evaluate(make_registry(), {}, today=TODAY, incomplete="the run was interrupted")
    lines = render_summary(ev, None)
    assert "parity: incomplete run, the run was interrupted" in lines
    assert gate_line(decide_gate(ev, "M1")).text == (
        "parity gate (M1: M1): NOT EVALUATED, the run was interrupted"
    )


def test_stale_globs_shown_with_a_gate_or_verbose() -> None:
    reg = Registry([Milestone("M1")], source="parity.toml")
    reg.add(Invariant("A", "M1", "a", tests=("t::a", "t::gone")))
    ev = evaluate(reg, records(("t::a", "passed", ("A",), ())), today=TODAY)
    stale = "STALE   A [M1]: `tests` glob 't::gone' matches no collected test"
    assert stale in render_summary(ev, decide_gate(ev, "all"))
    assert stale in render_summary(ev, None, verbosity=1)
    assert stale not in render_summary(ev, None)
