"""``pytest-parity diff`` and ``check --baseline``: what a change does to the invariants."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

import pytest

from pytest_parity import diff
from pytest_parity.cli import main
from pytest_parity.diff import MARKDOWN_LIMIT
from pytest_parity.evidence import evaluate
from pytest_parity.model import Invariant, Milestone, Registry, TestRecord, Waiver
from pytest_parity.report import write_report

from .conftest import as_format_1, rec

if TYPE_CHECKING:
    from pathlib import Path

TS = dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)


def registry(**changes: Invariant | None) -> Registry:
    """The base registry, with invariants replaced, added, or removed (``None``)."""
    reg = Registry([Milestone("M1"), Milestone("M2")])
    invariants = {
        "KEEP": Invariant("KEEP", "M1", "kept as it was"),
        "BREAK": Invariant("BREAK", "M1", "regresses in head"),
        "FIX": Invariant("FIX", "M2", "improves in head"),
        "MOVE": Invariant("MOVE", "M1", "moves to M2"),
        "EDIT": Invariant("EDIT", "M2", "redefined in head"),
        "GONE": Invariant("GONE", "M2", "removed in head"),
        "SHIFT": Invariant("SHIFT", "M1", "its proof changes"),
        "WAIVE": Invariant("WAIVE", "M2", "waived", waiver=Waiver("ADR", dt.date(2999, 1, 1))),
    }
    for inv_id, inv in changes.items():
        invariants.pop(inv_id, None)
        if inv is not None:
            invariants[inv_id] = inv
    for inv in invariants.values():
        reg.add(inv)
    return reg


BASE_RECORDS = [
    rec("t.py::test_keep", "passed", "KEEP"),
    rec("t.py::test_break", "passed", "BREAK"),
    rec("t.py::test_fix", "failed", "FIX"),
    rec("t.py::test_move", "passed", "MOVE"),
    rec("t.py::test_edit", "passed", "EDIT"),
    rec("t.py::test_gone", "passed", "GONE"),
    *[rec(f"t.py::test_shift[{i}]", "passed", "SHIFT") for i in range(3)],
]
HEAD_RECORDS = [
    rec("t.py::test_keep", "passed", "KEEP"),
    rec("t.py::test_break", "failed", "BREAK", reason="AssertionError: boom"),
    rec("t.py::test_fix", "passed", "FIX"),
    rec("t.py::test_move", "passed", "MOVE"),
    rec("t.py::test_edit", "passed", "EDIT"),
    rec("t.py::test_new", "passed", "NEW"),
    rec("t.py::test_shift[0]", "passed", "SHIFT"),
    rec("t.py::test_shift_other", "passed", "SHIFT"),
    rec("t.py::test_waive", "skipped", "WAIVE"),
]


def head_registry() -> Registry:
    return registry(
        MOVE=Invariant("MOVE", "M2", "moves to M2"),
        EDIT=Invariant("EDIT", "M2", "redefined in head", min_tests=1, tests=("t.py::test_edit",)),
        GONE=None,
        NEW=Invariant("NEW", "M1", "added in head"),
    )


def report(
    path: Path, reg: Registry, records: list[TestRecord], incomplete: str | None = None
) -> str:
    evidence = evaluate(
        reg, {r.nodeid: r for r in records}, today=dt.date(2026, 11, 25), incomplete=incomplete
    )
    write_report(path, evidence, None, timestamp=TS)
    return str(path)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[str, str]:
    base = report(tmp_path / "base.xml", registry(), BASE_RECORDS)
    head = report(tmp_path / "head.xml", head_registry(), HEAD_RECORDS)
    return base, head


def test_every_kind_of_change(pair: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    base, head = pair
    assert main(["diff", "--base", base, head, "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    ids = {kind: [c["id"] for c in data[kind]] for kind in (
        "regressed", "improved", "added", "removed", "moved", "redefined", "proof_changed"
    )}  # fmt: skip
    assert ids == {
        "regressed": ["BREAK"],
        "improved": ["FIX"],
        "added": ["NEW"],
        "removed": ["GONE"],
        "moved": ["MOVE"],
        "redefined": ["EDIT"],
        "proof_changed": ["SHIFT"],
    }
    (broken,) = data["regressed"]
    assert broken == {
        "id": "BREAK",
        "milestone": "M1",
        "before": "proven",
        "after": "failed",
        "detail": "1 test failed (AssertionError: boom): t.py::test_break",
    }
    (shift,) = data["proof_changed"]
    assert shift["lost"] == ["t.py::test_shift[*] (2 of 3)"]
    assert shift["gained"] == ["t.py::test_shift_other"]
    assert data["redefined"][0]["detail"] == "tests changed"
    assert data["moved"][0]["detail"] == "from M1 to M2"
    assert data["base"]["registry_sha256"] != data["head"]["registry_sha256"]
    assert data["milestones"][0] == {
        "milestone": "M1",
        "before": {"proven": 4, "total": 4},
        "after": {"proven": 3, "total": 4},
    }


def test_a_move_alone_is_not_a_redefinition(
    pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["diff", "--base", pair[0], pair[1], "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert "MOVE" not in [c["id"] for c in data["redefined"]]


@pytest.mark.parametrize(("fail_on", "code"), [("regression", 1), ("any", 1), ("never", 0)])
def test_exit_codes(pair: tuple[str, str], fail_on: str, code: int) -> None:
    assert main(["diff", "--base", pair[0], pair[1], "--fail-on", fail_on]) == code


def test_no_regression_but_other_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = report(tmp_path / "b.xml", registry(), BASE_RECORDS)
    head = report(
        tmp_path / "h.xml", registry(), [*BASE_RECORDS, rec("t.py::test_x", "passed", "KEEP")]
    )
    assert main(["diff", "--base", base, head]) == 0
    assert capsys.readouterr().out.startswith("parity diff: no regressions; 1 change\n")
    assert main(["diff", "--base", base, head, "--fail-on", "any"]) == 1
    assert main(["diff", "--base", base, base]) == 0
    assert "no change to any invariant" in capsys.readouterr().out


def test_text_output(pair: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    main(["diff", "--base", pair[0], pair[1]])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "parity diff: 1 invariant regressed; 6 other changes"
    assert out[1] == (
        "REGRESSED     BREAK [M1]: proven -> failed: 1 test failed (AssertionError: boom): "
        "t.py::test_break"
    )
    assert "M1: 4/4 proven -> 3/4" in out


@pytest.mark.parametrize("side", ["base", "head"])
def test_evidence_that_cannot_vouch_is_said_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], side: str
) -> None:
    args = {
        name: report(
            tmp_path / f"{name}.xml",
            registry(),
            BASE_RECORDS,
            "stopped early (-x)" if side == name else None,
        )
        for name in ("base", "head")
    }
    assert main(["diff", "--base", args["base"], args["head"]]) == 1
    assert capsys.readouterr().out.startswith(f"parity diff: cannot vouch: {side}: ")
    assert main(["diff", "--base", args["base"], args["head"], "--fail-on", "never"]) == 0


def test_shards_on_each_side_and_expect_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    b1 = report(tmp_path / "b1.xml", registry(), BASE_RECORDS[:4])
    b2 = report(tmp_path / "b2.xml", registry(), BASE_RECORDS[4:])
    head = report(tmp_path / "h.xml", registry(), BASE_RECORDS)
    assert main(["diff", "--base", b1, "--base", b2, head, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["regressed"] == []
    assert main(["diff", "--base", b1, head, "--expect-reports", "2"]) == 1
    assert "1 distinct report given, 2 expected" in capsys.readouterr().out


def test_markdown_is_safe_and_short_whatever_the_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg_base, reg_head = Registry([Milestone("M1")]), Registry([Milestone("M1")])
    base_recs, head_recs = [], []
    for i in range(3000):
        inv_id = f"I-{i:04d}"
        reg_base.add(Invariant(inv_id, "M1", f"<script>alert({i})</script> | pipe"))
        reg_head.add(Invariant(inv_id, "M1", f"<script>alert({i})</script> | pipe"))
        base_recs.append(rec(f"t.py::test_{i}", "passed", inv_id))
        head_recs.append(
            rec(f"t.py::test_{i}", "failed", inv_id, reason="<img src=x onerror=alert(1)> |")
        )
    base = report(tmp_path / "b.xml", reg_base, base_recs)
    head = report(tmp_path / "h.xml", reg_head, head_recs)
    summary = tmp_path / "summary.md"
    os.environ["GITHUB_STEP_SUMMARY"] = str(summary)
    try:
        assert main(["diff", "--base", base, head, "--format", "markdown"]) == 1
    finally:
        del os.environ["GITHUB_STEP_SUMMARY"]
    out = capsys.readouterr().out
    assert len(out) < MARKDOWN_LIMIT
    assert out.startswith("### pytest-parity: 3000 invariants regressed; 0 other changes\n")
    assert "<img" not in out
    assert "more rows cut to stay under 65,000 characters" in out
    assert summary.read_text(encoding="utf-8") == out


def test_same_inputs_same_bytes(pair: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for fmt in ("text", "markdown", "json") * 2:
        main(["diff", "--base", pair[0], pair[1], "--format", fmt])
        outputs.append(capsys.readouterr().out)
    assert outputs[:3] == outputs[3:]


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<nope/>", encoding="utf-8")
    good = report(tmp_path / "g.xml", registry(), BASE_RECORDS)
    assert main(["diff", "--base", str(bad), good]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert "bad.xml" in err[0]
    assert main(["diff", good]) == 2  # --base is required
    capsys.readouterr()


# -- check --baseline: the ratchet --------------------------------------------------------


def test_check_baseline_fails_on_any_regression_in_or_out_of_scope(
    tmp_path: Path, pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = pair
    # BREAK regressed (M1); FIX failed in base and passes now; the gate M2 also fails
    assert main(["check", head, "--gate", "M1", "--baseline", base]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED BREAK [M1]: proven -> failed" in out
    assert out.splitlines()[-1] == f"parity ratchet (against {base}): FAILED, 1 invariant regressed"
    # a removed invariant (GONE) is no regression; without regressions the gate decides
    kept = [r for r in BASE_RECORDS if r.invariants != ("GONE",)]
    ok_head = report(tmp_path / "ok.xml", registry(GONE=None), kept)
    assert main(["check", ok_head, "--gate", "M1", "--baseline", base]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "parity gate (M1): PASSED",
        f"parity ratchet (against {base}): PASSED, no regressions",
    ]


def test_check_baseline_regression_outside_the_gate_scope(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = report(tmp_path / "base.xml", registry(), BASE_RECORDS)
    records = [rec(r.nodeid, "failed", *r.invariants) if r.invariants == ("EDIT",) else r
               for r in BASE_RECORDS]  # fmt: skip
    head = report(tmp_path / "head.xml", registry(), records)
    assert main(["check", head, "--gate", "M1"]) == 0  # EDIT is in M2: the gate holds
    capsys.readouterr()
    assert main(["check", head, "--gate", "M1", "--baseline", base]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3:] == [
        "parity gate (M1): PASSED",
        "REGRESSED EDIT [M2]: proven -> failed: 1 test failed: t.py::test_edit",
        f"parity ratchet (against {base}): FAILED, 1 invariant regressed",
    ]


def test_check_baseline_that_cannot_vouch_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = report(tmp_path / "base.xml", registry(), BASE_RECORDS, "stopped early (-x)")
    head = report(tmp_path / "head.xml", registry(), BASE_RECORDS)
    assert main(["check", head, "--gate", "M1", "--baseline", base]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith(
        f"parity ratchet (against {base}): NOT EVALUATED, the baseline cannot vouch for itself: "
    )
    b2 = report(tmp_path / "b2.xml", registry(), BASE_RECORDS[:3])
    args = ["check", head, "--gate", "M1", "--baseline", b2]
    assert main([*args, "--expect-baseline-reports", "2"]) == 1
    assert "1 distinct report given, 2 expected" in capsys.readouterr().out


def test_hostile_text_stays_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = report(tmp_path / "base.xml", registry(), BASE_RECORDS)
    hostile = "\x1b[2J\x1b]0;pwned\x07 | <b>`x`</b>\u2028"
    records = [
        rec(r.nodeid + "[\x1b[31m]", "failed", *r.invariants, reason=hostile)
        if r.invariants == ("KEEP",)
        else r
        for r in BASE_RECORDS
    ]
    head = report(tmp_path / "head.xml", registry(), records)
    assert main(["diff", "--base", base, head]) == 1
    text = capsys.readouterr().out
    assert "\x1b" not in text
    assert "\\x1b[2J\\x1b]0;pwned\\x07" in text
    assert main(["diff", "--base", base, head, "--format", "markdown"]) == 1
    markdown = capsys.readouterr().out
    assert "\x1b" not in markdown
    assert "<b>" not in markdown
    assert main(["check", head, "--baseline", base]) == 1
    assert "\x1b" not in capsys.readouterr().out


def test_output_file_and_step_summary(
    pair: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out" / "diff.json"
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["diff", "--base", pair[0], pair[1], "--format", "json", "-o", str(out)]) == 1
    assert json.loads(out.read_text(encoding="utf-8"))["regressed"][0]["id"] == "BREAK"
    assert not summary.exists()  # only the Markdown is for people


def test_a_format_1_base_compares_its_embedded_registry(
    pair: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = ET.parse(pair[0]).getroot()
    as_format_1(root)
    old = tmp_path / "format-1.xml"
    old.write_bytes(ET.tostring(root, encoding="utf-8"))
    assert main(["diff", "--base", str(old), pair[1], "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in data["redefined"]] == ["EDIT"]
    assert [c["id"] for c in data["regressed"]] == ["BREAK"]


def test_a_100000_test_pair(tmp_path: Path) -> None:
    """Correct at size (how fast: bench/bench.py, case cli)."""
    reg = Registry([Milestone(f"M{m}") for m in range(1, 6)])
    for i in range(10_000):
        reg.add(Invariant(f"INV-{i:05d}", f"M{i % 5 + 1}", f"invariant {i}"))
    records = [
        rec(f"tests/t{n // 100}.py::test_{n % 100}", "passed", f"INV-{n % 10_000:05d}")
        for n in range(100_000)
    ]
    base = report(tmp_path / "b.xml", reg, records)
    records[7] = rec(records[7].nodeid, "failed", *records[7].invariants)
    records[8] = rec("tests/t0.py::test_8_renamed", "passed", *records[8].invariants)
    head = report(tmp_path / "h.xml", reg, records)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_parity", "diff", "--base", base, head],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[:3] == [
        "parity diff: 1 invariant regressed; 1 other change",
        "REGRESSED     INV-00007 [M3]: proven -> failed: 1 test failed: tests/t0.py::test_7",
        "PROOF CHANGED INV-00008 [M4]: proven -> proven: no longer proven by "
        "tests/t0.py::test_8; now also proven by tests/t0.py::test_8_renamed",
    ]


def test_a_proof_that_only_lost_tests_says_so() -> None:
    side = diff.Side("0" * 64, None, None)
    change = diff.Change("proof_changed", "A", "M1", "proven", "proven", lost=("t.py::x",))
    text = diff.render_text(diff.Diff(side, side, [change]))
    assert "no longer proven by t.py::x" in text
    assert "now also proven" not in text
