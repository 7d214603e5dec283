"""The ``pytest-parity`` console script: check, merge, matrix (run in-process via main())."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import runpy
import stat
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

import pytest_parity.__main__
from pytest_parity import __version__
from pytest_parity.cli import load_evidence, main
from pytest_parity.evidence import decide_gate, evaluate
from pytest_parity.files import atomic_write
from pytest_parity.matrix import BEGIN_MARKER, END_MARKER, MARKDOWN_HEADER
from pytest_parity.model import (
    FlakyPolicy,
    Invariant,
    Milestone,
    Outcome,
    ParityError,
    Registry,
    TestRecord,
    Waiver,
)
from pytest_parity.reader import read_report
from pytest_parity.report import write_report

from .conftest import billion_laughs

if TYPE_CHECKING:
    from pathlib import Path

TIMESTAMP = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # never append to a real CI step summary; never inherit a broken SOURCE_DATE_EPOCH
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764072000")


def make_registry(extra: bool = False) -> Registry:
    reg = Registry([Milestone("M1", "Execution"), Milestone("M2"), Milestone("M3")])
    reg.add(Invariant("RUN-01", "M1", "a duplicate run key returns the run"))
    reg.add(Invariant("RUN-02", "M1", "runs | pipes"))
    reg.add(Invariant("M2-A", "M2", "second milestone"))
    reg.add(Invariant("W", "M3", "waived", waiver=Waiver("ADR-12", dt.date(2099, 1, 31))))
    if extra:
        reg.add(Invariant("EXTRA", "M2", "only in the newer registry"))
    return reg


def rec(nodeid: str, outcome: Outcome, *invs: str, milestones: tuple[str, ...] = ()) -> TestRecord:
    return TestRecord(nodeid, outcome, tuple(invs), milestones)


def write(
    path: Path,
    records: list[TestRecord],
    *,
    registry: Registry | None = None,
    flaky: FlakyPolicy = "fail",
    gate: str | None = "all",
    incomplete: str | None = None,
) -> str:
    reg = make_registry() if registry is None else registry
    evidence = evaluate(
        reg,
        {r.nodeid: r for r in records},
        flaky=flaky,
        today=dt.date(2026, 11, 25),
        incomplete=incomplete,
    )
    write_report(
        path,
        evidence,
        None if gate is None else decide_gate(evidence, gate),
        timestamp=TIMESTAMP,
    )
    return str(path)


SHARD1 = [
    rec("tests/test_a.py::test_run_key", "passed", "RUN-01"),
    rec("tests/test_b.py::test_pipes", "not-run", "RUN-02"),
    rec("tests/test_b.py::test_m2", "not-run", "M2-A"),
]
SHARD2 = [
    rec("tests/test_a.py::test_run_key", "not-run", "RUN-01"),
    rec("tests/test_b.py::test_pipes", "passed", "RUN-02"),
    rec("tests/test_b.py::test_m2", "passed", "M2-A"),
]


@pytest.fixture
def shards(tmp_path: Path) -> tuple[str, str]:
    return write(tmp_path / "shard1.xml", SHARD1), write(tmp_path / "shard2.xml", SHARD2)


def one_error_line(err: str, name: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("pytest-parity: error: ")
    assert name in lines[0]
    assert "Traceback" not in err
    return lines[0]


# -- check ------------------------------------------------------------------------------


class TestCheck:
    def test_each_shard_alone_fails_the_gate(
        self, shards: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["check", shards[0]]) == 1
        out = capsys.readouterr().out
        assert "NOT-RUN RUN-02 [M1]" in out
        assert out.rstrip().endswith("FAILED, 2 invariants not proven")
        assert main(["check", shards[1]]) == 1
        assert "NOT-RUN RUN-01 [M1]" in capsys.readouterr().out

    def test_shards_together_pass(
        self, shards: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["check", *shards]) == 0
        out = capsys.readouterr().out
        assert out.startswith("evidence from 2 reports (")
        assert "M1 (Execution): 2 proven" in out
        assert out.rstrip().endswith("parity gate (all): PASSED")

    def test_merge_then_check(
        self, shards: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "merged" / "out.xml"
        assert main(["merge", *shards, "-o", str(out)]) == 0
        assert f"wrote {out}" in capsys.readouterr().err
        loaded = read_report(out)
        assert loaded.gate == "all"
        assert [(r.nodeid, r.outcome) for r in loaded.records] == [
            ("tests/test_a.py::test_run_key", "passed"),
            ("tests/test_b.py::test_m2", "passed"),
            ("tests/test_b.py::test_pipes", "passed"),
        ]
        assert main(["check", str(out)]) == 0
        assert b'name="parity.gate.result" value="passed"' in out.read_bytes()

    def test_any_failure_wins(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        a = write(tmp_path / "a.xml", [*SHARD2[1:], rec("tests/x.py::test_x", "passed", "RUN-01")])
        b = write(tmp_path / "b.xml", [rec("tests/x.py::test_x", "failed", "RUN-01")])
        assert main(["check", a]) == 0
        assert main(["check", a, b]) == 1
        assert "FAILED  RUN-01 [M1]: 1 test failed: tests/x.py::test_x" in capsys.readouterr().out
        assert main(["check", b, a]) == 1
        out = tmp_path / "m.xml"
        assert main(["merge", a, b, "-o", str(out)]) == 0
        [record] = [r for r in read_report(out).records if r.nodeid == "tests/x.py::test_x"]
        assert record.outcome == "failed"

    def test_gate_scope(self, shards: tuple[str, str], tmp_path: Path) -> None:
        only_m1 = write(tmp_path / "m1.xml", [SHARD1[0], SHARD2[1]])
        assert main(["check", only_m1]) == 1
        assert main(["check", only_m1, "--gate", "M1"]) == 0
        assert main(["check", only_m1, "--gate", "M2"]) == 1

    def test_undeclared_gate_scope_is_bad_input(
        self, shards: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["check", shards[0], "--gate", "M9"]) == 2
        line = one_error_line(capsys.readouterr().err, "M9")
        assert "neither 'all' nor a declared milestone (M1, M2, M3)" in line

    def test_stored_status_is_not_trusted(self, tmp_path: Path) -> None:
        # re-evaluated from per-test outcomes: the stored gate result does not matter
        path = tmp_path / "r.xml"
        write(path, [*SHARD1[:1], *SHARD2[1:]])
        data = path.read_bytes().replace(
            b'name="parity.gate.result" value="passed"', b'name="parity.gate.result" value="failed"'
        )
        path.write_bytes(data)
        assert main(["check", str(path)]) == 0

    def test_quiet_and_verbose(
        self, shards: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["check", "-q", shards[0]]) == 1
        quiet = capsys.readouterr().out
        assert not quiet.startswith("evidence from")
        assert "M1 (Execution)" not in quiet
        assert "NOT-RUN RUN-02" in quiet
        assert main(["check", "-v", *shards]) == 0
        verbose = capsys.readouterr().out
        assert "PROVEN  RUN-01 [M1]: a duplicate run key returns the run" in verbose
        assert "    passed  tests/test_a.py::test_run_key" in verbose

    def test_flaky_default_follows_the_reports(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        records = [*SHARD2[1:], rec("tests/test_a.py::test_run_key", "flaky", "RUN-01")]
        allow = write(tmp_path / "allow.xml", records, flaky="allow")
        fail = write(tmp_path / "fail.xml", records, flaky="fail")
        assert main(["check", allow]) == 0
        assert main(["check", fail]) == 1
        assert main(["check", allow, fail]) == 1  # any report recorded "fail"
        assert main(["check", fail, "--flaky", "allow"]) == 0
        assert main(["check", allow, "--flaky", "fail"]) == 1
        assert "--parity-flaky=fail" in capsys.readouterr().out

    def test_milestone_suite_failure_fails_the_gate(self, tmp_path: Path) -> None:
        records = [
            *SHARD1[:1],
            *SHARD2[1:],
            rec("tests/s.py::test_s", "failed", milestones=("M2",)),
        ]
        path = write(tmp_path / "r.xml", records)
        assert main(["check", path, "--gate", "M1"]) == 0
        assert main(["check", path, "--gate", "M2"]) == 1

    def test_incomplete_report_never_passes(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        done = write(tmp_path / "done.xml", [*SHARD1[:1], *SHARD2[1:]])
        partial = write(tmp_path / "partial.xml", [], gate=None, incomplete="stopped early (-x)")
        assert main(["check", done]) == 0
        assert main(["check", done, partial]) == 1
        out = capsys.readouterr().out
        assert f"NOT EVALUATED, {partial}: stopped early (-x)" in out

    def test_expired_waiver_fails(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        reg = Registry([Milestone("M1")])
        reg.add(Invariant("OLD", "M1", "old", waiver=Waiver("ADR-1", dt.date(2020, 1, 1))))
        path = write(tmp_path / "r.xml", [], registry=reg)
        assert main(["check", path]) == 1
        assert "waiver expired on 2020-01-01" in capsys.readouterr().out


class TestStepSummary:
    def test_appends_matrix_and_gate(
        self, shards: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        summary = tmp_path / "summary.md"
        summary.write_text("earlier step\n", encoding="utf-8")
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        assert main(["check", *shards]) == 0
        text = summary.read_text(encoding="utf-8")
        assert text.startswith("earlier step\n### pytest-parity\n")
        assert MARKDOWN_HEADER in text
        assert "| M1 | RUN-02 | runs \\| pipes | proven | `tests/test_b.py::test_pipes` |" in text
        assert "**parity gate (all): PASSED**" in text
        assert main(["check", shards[0]]) == 1
        text = summary.read_text(encoding="utf-8")
        assert text.count("### pytest-parity") == 2
        assert text.rstrip().endswith("FAILED, 2 invariants not proven**")

    def test_unwritable_summary_only_warns(
        self,
        shards: tuple[str, str],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a directory
        assert main(["check", *shards]) == 0
        err = capsys.readouterr().err
        assert err.startswith("pytest-parity: warning: GITHUB_STEP_SUMMARY=")
        assert "Traceback" not in err

    def test_empty_variable_is_ignored(
        self,
        shards: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", "")
        assert main(["check", *shards]) == 0
        assert capsys.readouterr().err == ""


# -- registries ---------------------------------------------------------------------------


class TestMixedRegistries:
    def test_refused(
        self, tmp_path: Path, shards: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        newer = write(
            tmp_path / "newer.xml",
            [rec("tests/e.py::test_e", "passed", "EXTRA")],
            registry=make_registry(extra=True),
        )
        out = tmp_path / "out.xml"
        for argv in (
            ["check", shards[0], newer],
            ["merge", shards[0], newer, "-o", str(out)],
            ["matrix", shards[0], newer],
        ):
            assert main(argv) == 2
            line = one_error_line(capsys.readouterr().err, newer)
            assert "reports were built from different registries" in line
            assert shards[0] in line
            assert "--allow-mixed-registries" in line
        assert not out.exists()

    def test_allowed_uses_the_last_registry(
        self, tmp_path: Path, shards: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        newer = write(
            tmp_path / "newer.xml",
            [*SHARD2, rec("tests/e.py::test_e", "passed", "EXTRA")],
            registry=make_registry(extra=True),
        )
        flag = "--allow-mixed-registries"
        assert main(["check", shards[0], newer, flag]) == 0
        assert "5 invariants" in capsys.readouterr().out
        # the older registry last: EXTRA is not declared, its test's reference is dropped
        out = tmp_path / "out.xml"
        assert main(["merge", newer, shards[0], flag, "-o", str(out)]) == 0
        loaded = read_report(out)
        assert loaded.registry_sha256 == make_registry().sha256()
        extra = [r for r in loaded.records if r.nodeid == "tests/e.py::test_e"]
        assert extra == [TestRecord("tests/e.py::test_e", "passed", (), ())]

    def test_recorded_gate_must_exist_in_the_registry_used(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        reg4 = make_registry()
        reg4.milestones.append(Milestone("M4"))
        first = write(tmp_path / "a.xml", [], registry=reg4, gate="M4")
        second = write(tmp_path / "b.xml", [], gate=None)
        out = tmp_path / "out.xml"
        argv = ["merge", first, second, "--allow-mixed-registries", "-o", str(out)]
        assert main(argv) == 2
        assert "the gate scope the reports recorded: 'M4'" in capsys.readouterr().err
        assert not out.exists()
        assert main([*argv, "--gate", "M1"]) == 0
        assert read_report(out).gate == "M1"


def test_load_evidence_needs_a_report() -> None:
    with pytest.raises(ParityError, match="no evidence report given"):
        load_evidence([])


def test_load_evidence_api(shards: tuple[str, str]) -> None:
    merged = load_evidence(list(shards), today=dt.date(2026, 1, 1))
    assert merged.recorded_gate == "all"
    assert merged.evidence.today == dt.date(2026, 1, 1)
    assert merged.evidence.flaky == "fail"
    assert [r.path for r in merged.reports] == list(shards)
    assert {r.status for r in merged.evidence.results.values()} == {"proven", "waived"}


# -- merge ----------------------------------------------------------------------------------


class TestMerge:
    def test_the_widest_recorded_gate_scope_wins_whatever_the_order(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        a = write(tmp_path / "a.xml", SHARD1, gate=None)
        b = write(tmp_path / "b.xml", SHARD2, gate="M1")
        c = write(tmp_path / "c.xml", [], gate="M2")
        out = tmp_path / "out.xml"
        for order in ([a, b, c], [c, b, a], [b, a]):
            assert main(["merge", *order, "-o", str(out)]) == 0
            assert read_report(out).gate == ("M1" if c not in order else "M2")
        assert main(["merge", a, b, "--gate", "none", "-o", str(out)]) == 0
        assert read_report(out).gate is None
        # check judges the recorded gate: M1 holds here, 'all' would not
        m1_only = write(tmp_path / "m1.xml", [*SHARD1[:1], *SHARD2[1:2]], gate="M1")
        assert main(["check", m1_only]) == 0
        assert "parity gate (M1): PASSED" in capsys.readouterr().out
        assert main(["check", m1_only, "--gate", "all"]) == 1
        assert main(["check", a]) == 1  # no gate recorded: all
        assert "parity gate (all)" in capsys.readouterr().out
        assert main(["check", a, "--gate", "none"]) == 2

    def test_no_gate_recorded(self, tmp_path: Path) -> None:
        a = write(tmp_path / "a.xml", SHARD1, gate=None)
        out = tmp_path / "out.xml"
        assert main(["merge", a, "-o", str(out)]) == 0
        assert read_report(out).gate is None
        assert b'name="parity.gate.result" value="none"' in out.read_bytes()

    def test_gate_option_overrides(self, shards: tuple[str, str], tmp_path: Path) -> None:
        out = tmp_path / "out.xml"
        assert main(["merge", *shards, "--gate", "M2", "-o", str(out)]) == 0
        assert read_report(out).gate == "M2"
        assert main(["merge", *shards, "--gate", "nope", "-o", str(tmp_path / "x.xml")]) == 2
        assert not (tmp_path / "x.xml").exists()

    def test_merge_does_not_judge_the_gate(self, shards: tuple[str, str], tmp_path: Path) -> None:
        out = tmp_path / "out.xml"
        assert main(["merge", shards[0], "-o", str(out)]) == 0
        assert b'name="parity.gate.result" value="failed"' in out.read_bytes()
        assert main(["check", str(out)]) == 1

    def test_merge_is_deterministic_and_keeps_flaky_policy(
        self, shards: tuple[str, str], tmp_path: Path
    ) -> None:
        one, two = tmp_path / "1.xml", tmp_path / "2.xml"
        assert main(["merge", *shards, "-o", str(one)]) == 0
        assert main(["merge", *shards, "-o", str(two)]) == 0
        assert one.read_bytes() == two.read_bytes()
        assert read_report(one).flaky == "fail"
        assert main(["merge", *shards, "--flaky", "allow", "-o", str(two)]) == 0
        assert read_report(two).flaky == "allow"

    def test_output_is_required(
        self, shards: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["merge", *shards]) == 2
        assert "-o/--output" in capsys.readouterr().err

    def test_unwritable_output(
        self, shards: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("x", encoding="utf-8")
        target = blocker / "out.xml"
        assert main(["merge", *shards, "-o", str(target)]) == 2
        one_error_line(capsys.readouterr().err, str(target))

    def test_bad_source_date_epoch(
        self,
        shards: tuple[str, str],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
        out = tmp_path / "out.xml"
        assert main(["merge", *shards, "-o", str(out)]) == 2
        one_error_line(capsys.readouterr().err, "SOURCE_DATE_EPOCH")
        assert not out.exists()


# -- hostile input ------------------------------------------------------------------------

BILLION_LAUGHS = billion_laughs(
    """<testsuites><testsuite name="x"><properties>
<property name="parity.version" value="&lol9;"/></properties></testsuite></testsuites>
"""
)

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<testsuites><testsuite name="x"><properties>
<property name="parity.version" value="1"/></properties>
<system-out>&e;</system-out></testsuite></testsuites>
"""

PLAIN_JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="1" time="0.012"
 timestamp="2026-11-25T12:00:00.000000+00:00" hostname="ci"><testcase classname="tests.test_a"
 name="test_run_key" time="0.001" /></testsuite></testsuites>
"""

HOSTILE = {
    "empty.xml": "",
    "truncated.xml": "<testsuites",
    "not-xml.xml": "not xml",
    "junit.xml": PLAIN_JUNIT,
    "bomb.xml": BILLION_LAUGHS,
    "xxe.xml": EXTERNAL_ENTITY,
}


def _corrupt_json(tmp_path: Path) -> str:
    path = tmp_path / "corrupt.xml"
    write(path, SHARD1)
    data = path.read_bytes()
    start = data.index(b'name="parity.tests" value="') + len(b'name="parity.tests" value="')
    end = data.index(b'"', start)
    path.write_bytes(data[:start] + b"[&quot;oops" + data[end:])
    return str(path)


@pytest.fixture(params=[*HOSTILE, "missing.xml", "a-directory", "corrupt-json.xml"])
def hostile(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    name: str = request.param
    if name in HOSTILE:
        path = tmp_path / name
        path.write_text(HOSTILE[name], encoding="utf-8")
        return str(path)
    if name == "a-directory":
        (tmp_path / name).mkdir()
        return str(tmp_path / name)
    if name == "corrupt-json.xml":
        return _corrupt_json(tmp_path)
    return str(tmp_path / name)


class TestHostileInput:
    def test_check(
        self, hostile: str, shards: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["check", shards[0], hostile]) == 2
        captured = capsys.readouterr()
        one_error_line(captured.err, hostile)
        assert captured.out == ""

    def test_merge_writes_nothing(
        self,
        hostile: str,
        shards: tuple[str, str],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        out = tmp_path / "out" / "merged.xml"
        assert main(["merge", hostile, shards[1], "-o", str(out)]) == 2
        one_error_line(capsys.readouterr().err, hostile)
        assert not out.parent.exists()

    def test_matrix_writes_nothing(
        self,
        hostile: str,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        out = tmp_path / "m.md"
        assert main(["matrix", hostile, "-o", str(out)]) == 2
        one_error_line(capsys.readouterr().err, hostile)
        assert not out.exists()

    def test_messages(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        expected = {
            "empty.xml": "empty",
            "truncated.xml": "not well-formed",
            "not-xml.xml": "not well-formed",
            "junit.xml": "not a pytest-parity evidence report",
            "bomb.xml": "DTD",
            "xxe.xml": "DTD",
        }
        for name, text in HOSTILE.items():
            path = tmp_path / name
            path.write_text(text, encoding="utf-8")
            assert main(["check", str(path)]) == 2
            assert expected[name] in one_error_line(capsys.readouterr().err, name)
        assert main(["check", _corrupt_json(tmp_path)]) == 2
        assert "corrupt evidence report" in capsys.readouterr().err


# -- matrix ---------------------------------------------------------------------------------


class TestMatrix:
    def test_markdown_to_stdout(
        self, shards: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["matrix", shards[0]]) == 0
        out = capsys.readouterr().out
        assert out.splitlines() == [
            MARKDOWN_HEADER,
            "| --- | --- | --- | --- | --- |",
            "| M1 | RUN-01 | a duplicate run key returns the run | proven | "
            "`tests/test_a.py::test_run_key` |",
            "| M1 | RUN-02 | runs \\| pipes | not-run | 1 test not run (deselected or never "
            "reached): tests/test_b.py::test_pipes |",
            "| M2 | M2-A | second milestone | not-run | 1 test not run (deselected or never "
            "reached): tests/test_b.py::test_m2 |",
            "| M3 | W | waived | waived | waived: ADR-12 (until 2099-01-31) |",
        ]

    def test_exit_zero_whatever_the_statuses(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = write(tmp_path / "r.xml", [rec("t.py::f", "failed", "RUN-01")])
        assert main(["matrix", path]) == 0
        assert (
            "| RUN-01 | a duplicate run key returns the run | failed |" in capsys.readouterr().out
        )

    def test_json(self, shards: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["matrix", *shards, "--format", "json"]) == 0
        text = capsys.readouterr().out
        data = json.loads(text)
        assert data["registry_sha256"] == make_registry().sha256()
        assert data["gate"] == {
            "scope": "all",
            "milestones": ["M1", "M2", "M3"],
            "result": "passed",
        }
        assert [i["id"] for i in data["invariants"]] == ["RUN-01", "RUN-02", "M2-A", "W"]
        assert data["invariants"][0]["tests"] == [
            {"nodeid": "tests/test_a.py::test_run_key", "outcome": "passed"}
        ]
        assert main(["matrix", *shards, "--format", "json"]) == 0
        assert capsys.readouterr().out == text

    def test_json_gate(
        self, shards: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["matrix", shards[0], "--format", "json", "--gate", "M1"]) == 0
        assert json.loads(capsys.readouterr().out)["gate"]["result"] == "failed"
        no_gate = write(tmp_path / "n.xml", SHARD2, gate=None)
        assert main(["matrix", no_gate, "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["gate"] is None
        assert main(["matrix", no_gate, "--format", "json", "--gate", "M7"]) == 2
        one_error_line(capsys.readouterr().err, "M7")

    def test_recorded_gate_not_declared_in_json(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        reg4 = make_registry()
        reg4.milestones.append(Milestone("M4"))
        first = write(tmp_path / "a.xml", [], registry=reg4, gate="M4")
        second = write(tmp_path / "b.xml", [], gate=None)
        argv = ["matrix", first, second, "--allow-mixed-registries", "--format", "json"]
        assert main(argv) == 2
        assert "recorded: 'M4'" in capsys.readouterr().err

    def test_markdown_gate_option_is_validated(
        self, shards: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["matrix", shards[0], "--gate", "M1"]) == 0
        assert main(["matrix", shards[0], "--gate", "M8"]) == 2
        one_error_line(capsys.readouterr().err, "M8")

    def test_output_file(
        self, shards: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "deep" / "er" / "matrix.json"
        assert main(["matrix", *shards, "--format", "json", "--output", str(out)]) == 0
        assert capsys.readouterr().out == ""
        assert json.loads(out.read_text(encoding="utf-8"))["gate"]["result"] == "passed"
        assert [p.name for p in out.parent.iterdir()] == ["matrix.json"]  # no temp file left

    def test_output_into_a_file_is_bad_input(
        self, shards: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        blocker = tmp_path / "f"
        blocker.write_text("x", encoding="utf-8")
        assert main(["matrix", *shards, "-o", str(blocker / "m.md")]) == 2
        one_error_line(capsys.readouterr().err, "m.md")

    @pytest.mark.parametrize("option", ["--update", "--check"])
    def test_doc_options_need_markdown(
        self,
        option: str,
        shards: tuple[str, str],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        doc = tmp_path / "P.md"
        doc.write_text(f"{BEGIN_MARKER}\n{END_MARKER}\n", encoding="utf-8")
        assert main(["matrix", *shards, "--format", "json", option, str(doc)]) == 2
        assert option in one_error_line(capsys.readouterr().err, "Markdown")

    def test_update_and_check_are_exclusive(
        self, shards: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["matrix", *shards, "--update", "a.md", "--check", "a.md"]) == 2
        assert "not allowed with argument" in capsys.readouterr().err


DOC = (
    "# Parity matrix\r\n\r\nGenerated; do not edit by hand.\r\n\r\n"
    f"{BEGIN_MARKER}\r\nstale\r\n{END_MARKER}\r\n\r\nFooter \xe9\r\n"
)


class TestUpdateAndCheck:
    def test_round_trip(
        self, shards: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        doc = tmp_path / "docs" / "PARITY.md"
        doc.parent.mkdir()
        doc.write_bytes(DOC.encode("utf-8"))
        assert main(["matrix", *shards, "--check", str(doc)]) == 1
        out = capsys.readouterr().out
        assert out.startswith(f"{doc}: parity matrix is out of date; regenerate it with")
        assert "-stale" in out
        assert doc.read_bytes() == DOC.encode("utf-8")  # --check never writes

        assert main(["matrix", *shards, "--update", str(doc)]) == 0
        assert capsys.readouterr().out == f"{doc}: parity matrix updated\n"
        data = doc.read_bytes()
        head, rest = data.split(BEGIN_MARKER.encode() + b"\r\n")
        block, tail = rest.split(END_MARKER.encode())
        assert head == b"# Parity matrix\r\n\r\nGenerated; do not edit by hand.\r\n\r\n"
        assert tail == "\r\n\r\nFooter \xe9\r\n".encode()
        assert block.startswith(b"\r\n" + MARKDOWN_HEADER.encode() + b"\r\n")
        assert block.endswith(b" |\r\n\r\n")
        assert b"\n" not in block.replace(b"\r\n", b"")
        assert [p.name for p in doc.parent.iterdir()] == ["PARITY.md"]

        assert main(["matrix", *shards, "--check", str(doc)]) == 0
        assert capsys.readouterr().out == f"{doc}: parity matrix is up to date\n"
        # --update again: nothing to do
        assert main(["matrix", *shards, "--update", str(doc)]) == 0
        assert capsys.readouterr().out == f"{doc}: parity matrix is up to date\n"
        assert doc.read_bytes() == data

        # a proving test changes: the matrix is out of date
        renamed = [
            SHARD2[0],
            rec("tests/test_b.py::test_pipes_renamed", "passed", "RUN-02"),
            SHARD2[2],
        ]
        write(tmp_path / "shard2.xml", renamed)
        assert main(["matrix", *shards, "--check", str(doc)]) == 1
        out = capsys.readouterr().out
        assert "out of date" in out
        assert (
            "+| M1 | RUN-02 | runs \\| pipes | proven | `tests/test_b.py::test_pipes_renamed` |"
            in out
        )

    def test_update_with_output(self, shards: tuple[str, str], tmp_path: Path) -> None:
        doc = tmp_path / "P.md"
        doc.write_text(f"x\n{BEGIN_MARKER}\n{END_MARKER}\n", encoding="utf-8")
        out = tmp_path / "m.md"
        assert main(["matrix", *shards, "--update", str(doc), "-o", str(out)]) == 0
        table = out.read_text(encoding="utf-8")
        assert doc.read_text(encoding="utf-8") == f"x\n{BEGIN_MARKER}\n\n{table}\n{END_MARKER}\n"

    def test_update_keeps_the_file_mode(self, shards: tuple[str, str], tmp_path: Path) -> None:
        doc = tmp_path / "P.md"
        doc.write_text(f"{BEGIN_MARKER}\n{END_MARKER}\n", encoding="utf-8")
        doc.chmod(0o640)
        assert main(["matrix", *shards, "--update", str(doc)]) == 0
        assert stat.S_IMODE(doc.stat().st_mode) == 0o640
        assert MARKDOWN_HEADER in doc.read_text(encoding="utf-8")

    def test_non_utf8_bytes_survive(self, shards: tuple[str, str], tmp_path: Path) -> None:
        doc = tmp_path / "P.md"
        doc.write_bytes(b"caf\xe9\n" + f"{BEGIN_MARKER}\n{END_MARKER}\n".encode() + b"\xff\n")
        assert main(["matrix", *shards, "--update", str(doc)]) == 0
        data = doc.read_bytes()
        assert data.startswith(b"caf\xe9\n")
        assert data.endswith(END_MARKER.encode() + b"\n\xff\n")

    @pytest.mark.parametrize("option", ["--update", "--check"])
    def test_missing_markers(
        self,
        option: str,
        shards: tuple[str, str],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        doc = tmp_path / "README.md"
        original = b"# Title\n\nno markers here\n"
        doc.write_bytes(original)
        assert main(["matrix", *shards, option, str(doc)]) == 2
        assert "no parity matrix markers" in one_error_line(capsys.readouterr().err, str(doc))
        assert doc.read_bytes() == original

    def test_unbalanced_markers(
        self, shards: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        doc = tmp_path / "README.md"
        original = f"{BEGIN_MARKER}\nkeep me\n".encode()
        doc.write_bytes(original)
        out = tmp_path / "m.md"
        assert main(["matrix", *shards, "--update", str(doc), "-o", str(out)]) == 2
        assert "unbalanced" in one_error_line(capsys.readouterr().err, str(doc))
        assert doc.read_bytes() == original
        assert not out.exists()

    @pytest.mark.parametrize("option", ["--update", "--check"])
    def test_unreadable_doc(
        self,
        option: str,
        shards: tuple[str, str],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        missing = tmp_path / "nope.md"
        assert main(["matrix", *shards, option, str(missing)]) == 2
        assert "cannot read" in one_error_line(capsys.readouterr().err, str(missing))
        assert not missing.exists()
        assert main(["matrix", *shards, option, str(tmp_path)]) == 2
        one_error_line(capsys.readouterr().err, str(tmp_path))


# -- atomic_write -----------------------------------------------------------------------------


class TestAtomicWrite:
    def test_new_file_gets_default_mode(self, tmp_path: Path) -> None:
        target = tmp_path / "new.txt"
        atomic_write(str(target), b"data")
        assert target.read_bytes() == b"data"
        umask = os.umask(0)
        os.umask(umask)
        assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask

    def test_explicit_mode(self, tmp_path: Path) -> None:
        target = tmp_path / "x.txt"
        atomic_write(str(target), b"a", mode=0o600)
        assert stat.S_IMODE(target.stat().st_mode) == 0o600

    def test_replace_failure_leaves_no_temp_file(self, tmp_path: Path) -> None:
        target = tmp_path / "adir"
        target.mkdir()
        (target / "keep").write_text("k", encoding="utf-8")
        with pytest.raises(ParityError, match="adir: cannot write"):
            atomic_write(str(target), b"data")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["adir"]
        assert (target / "keep").read_text(encoding="utf-8") == "k"

    @pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
    def test_a_directory_that_cannot_be_made(self) -> None:
        with pytest.raises(ParityError, match=r"/proc/self/parity-out/r\.xml: cannot write"):
            atomic_write("/proc/self/parity-out/r.xml", b"data")


# -- the program --------------------------------------------------------------------------------


class TestProgram:
    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["--version"]) == 0
        assert capsys.readouterr().out == f"pytest-parity {__version__}\n"

    @pytest.mark.parametrize("command", [[], ["check"], ["merge"], ["matrix"]])
    def test_help(self, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
        assert main([*command, "--help"]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: pytest-parity {' '.join(command)}".rstrip())

    def test_top_level_help_lists_commands(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["--help"]) == 0
        out = capsys.readouterr().out
        for command in ("check", "merge", "matrix"):
            assert command in out

    @pytest.mark.parametrize(
        "argv",
        [
            [],
            ["frobnicate"],
            ["check"],
            ["check", "a.xml", "--flaky", "maybe"],
            ["matrix", "a.xml", "--format", "html"],
        ],
    )
    def test_usage_errors_exit_2(self, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "usage: pytest-parity" in err
        assert "Traceback" not in err

    def test_python_dash_m_help(self) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest_parity", "--help"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("usage: pytest-parity")

    def test_python_dash_m_bad_input(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.xml"
        bad.write_text("<testsuites", encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, "-m", "pytest_parity", "check", str(bad)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2
        assert proc.stdout == ""
        one_error_line(proc.stderr, str(bad))

    def test_dunder_main_in_process(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setattr(sys, "argv", ["pytest-parity", "--version"])
        with pytest.raises(SystemExit) as info:
            runpy.run_path(pytest_parity.__main__.__file__, run_name="__main__")
        assert info.value.code == 0
        assert __version__ in capsys.readouterr().out

    def test_multiline_error_message_is_one_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        odd = tmp_path / "two\nlines.xml"
        assert main(["check", str(odd)]) == 2
        one_error_line(capsys.readouterr().err, "two lines.xml")


# -- no false green from the command line -------------------------------------------------


class TestExpectReports:
    def test_a_missing_shard_fails_check_and_merge_writes_nothing(
        self, shards: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # shard 2 crashed before writing its report: shard 1 alone must not pass
        assert main(["check", shards[0], "--expect-reports", "2"]) == 1
        out = capsys.readouterr().out
        assert "NOT EVALUATED, 1 distinct report given, 2 expected" in out
        out_path = tmp_path / "merged.xml"
        assert main(["merge", shards[0], "-o", str(out_path), "--expect-reports", "2"]) == 1
        assert "1 distinct report given, 2 expected" in capsys.readouterr().err
        assert not out_path.exists()

    def test_the_same_shard_twice_counts_once(
        self, shards: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        copy = tmp_path / "copy.xml"
        copy.write_bytes((tmp_path / "shard1.xml").read_bytes())
        assert main(["check", shards[0], str(copy), "--expect-reports", "2"]) == 1
        assert main(["check", *shards, "--expect-reports", "2"]) == 0

    @pytest.mark.parametrize("value", ["0", "-1", "two"])
    def test_bad_value_is_a_usage_error(
        self, shards: tuple[str, str], value: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["check", *shards, "--expect-reports", value]) == 2
        assert "--expect-reports" in capsys.readouterr().err

    def test_tests_that_ran_in_no_shard_are_listed(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        one = write(tmp_path / "a.xml", [*SHARD1[:1], rec("t.py::test_lost", "not-run", "M2-A")])
        two = write(tmp_path / "b.xml", [*SHARD2[1:], rec("t.py::test_lost", "not-run", "M2-A")])
        main(["check", one, two])
        out = capsys.readouterr().out
        assert "1 tagged test ran in none of the 2 reports: t.py::test_lost" in out


def surrogate_report(tmp_path: Path) -> str:
    """A report whose JSON holds lone surrogates (a node ID and a hook-made title)."""
    reg = make_registry()
    reg.invariants["RUN-02"] = Invariant("RUN-02", "M1", "bad \udc80 title")
    return write(
        tmp_path / "s.xml",
        [rec("t.py::test_\udc80", "failed", "RUN-02"), rec("t.py::ok", "passed", "RUN-01")],
        registry=reg,
    )


class TestAnyTextIsPrintable:
    @pytest.mark.parametrize(
        "argv", [["check", "-v"], ["matrix"], ["matrix", "--format", "json"], ["check"]]
    )
    @pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
    def test_lone_surrogates_and_odd_encodings(
        self, tmp_path: Path, argv: list[str], encoding: str
    ) -> None:
        path = surrogate_report(tmp_path)
        env = {**os.environ, "PYTHONIOENCODING": encoding}
        env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary.md")
        proc = subprocess.run(
            [sys.executable, "-m", "pytest_parity", *argv, path],
            capture_output=True,
            env=env,
            check=False,
        )
        assert proc.returncode in (0, 1), proc.stderr
        assert b"Traceback" not in proc.stderr
        assert b"\\udc80" in proc.stdout or argv[0] == "check"


class TestBrokenPipe:
    def test_output_into_a_closed_pipe_keeps_the_verdict(self, tmp_path: Path) -> None:
        records = [rec(f"t.py::test_{i}", "passed", "RUN-01") for i in range(2000)]
        path = write(tmp_path / "big.xml", records)  # RUN-02 and M2-A unproven: the gate fails
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest_parity", "check", "-v", path],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        with proc, proc.stderr:
            proc.stdout.readline()  # like `| head -1`
            proc.stdout.close()
            err = proc.stderr.read()
        assert proc.returncode == 1
        assert b"Traceback" not in err
        assert b"BrokenPipeError" not in err

    def test_a_short_output_into_a_pipe_already_closed(self, tmp_path: Path) -> None:
        # the output fits stdout's buffer: the broken pipe shows only when it is flushed
        path = write(tmp_path / "r.xml", SHARD1)
        reader, writer = os.pipe()
        os.close(reader)
        buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "pytest_parity", "check", "-q", path],
                stdout=writer,
                stderr=subprocess.PIPE,
                env=buffered,
                check=False,
            )
        finally:
            os.close(writer)
        assert b"Traceback" not in proc.stderr
        assert proc.returncode == 1  # the verdict (SHARD1 alone does not prove everything)

    def test_any_stdout_object_is_written_to(self, tmp_path: Path) -> None:
        path = write(tmp_path / "r.xml", SHARD1)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["check", "-q", path]) == 1
        assert "parity gate (all): FAILED" in out.getvalue()


class TestEmbeddedRegistry:
    @pytest.mark.parametrize("value", ["1e999", "Infinity", "true", "1.5", "0"])
    def test_min_tests_is_checked_like_toml(
        self, tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "r.xml"
        write(path, SHARD1)
        text = path.read_text(encoding="utf-8")
        assert text.count("&quot;min_tests&quot;:1,") == 4
        path.write_text(
            text.replace("&quot;min_tests&quot;:1,", f"&quot;min_tests&quot;:{value},", 1),
            encoding="utf-8",
        )
        assert main(["check", str(path)]) == 2
        line = one_error_line(capsys.readouterr().err, "r.xml")
        assert "min_tests" in line


class TestOutputPaths:
    def test_a_symlink_is_followed_not_replaced(self, tmp_path: Path) -> None:
        target = tmp_path / "real" / "report.xml"
        target.parent.mkdir()
        target.write_bytes(b"old")
        link = tmp_path / "link.xml"
        link.symlink_to(target)
        atomic_write(link, b"new")
        assert link.is_symlink()
        assert target.read_bytes() == b"new"
        assert sorted(p.name for p in target.parent.iterdir()) == ["report.xml"]

    def test_a_dangling_symlink_creates_its_target(self, tmp_path: Path) -> None:
        link = tmp_path / "link.xml"
        link.symlink_to(tmp_path / "made.xml")
        atomic_write(link, b"new")
        assert link.is_symlink()
        assert (tmp_path / "made.xml").read_bytes() == b"new"

    def test_a_character_device_is_written_through(self, tmp_path: Path) -> None:
        link = tmp_path / "null.xml"
        link.symlink_to(os.devnull)
        atomic_write(link, b"data")
        assert link.is_symlink()
        assert stat.S_ISCHR(os.stat(os.devnull).st_mode)

    def test_a_fifo_is_written_through(self, tmp_path: Path) -> None:
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
        atomic_write(fifo, b"through the pipe")
        assert reader.communicate(timeout=10)[0] == b"through the pipe"
        assert stat.S_ISFIFO(fifo.stat().st_mode)

    def test_other_special_files_are_refused(self, tmp_path: Path) -> None:
        import socket

        path = tmp_path / "sock"
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(path))
            with pytest.raises(ParityError, match="not a regular file"):
                atomic_write(path, b"data")
            assert stat.S_ISSOCK(path.stat().st_mode)

    def test_merge_output_through_a_symlink(self, shards: tuple[str, str], tmp_path: Path) -> None:
        target = tmp_path / "keep" / "merged.xml"
        target.parent.mkdir()
        link = tmp_path / "out.xml"
        link.symlink_to(target)
        assert main(["merge", *shards, "-o", str(link)]) == 0
        assert link.is_symlink()
        assert read_report(target).records
