"""The JUnit-XML evidence report: building and writing it (pure unit tests)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_parity import __version__
from pytest_parity.evidence import decide_gate, evaluate
from pytest_parity.files import atomic_output
from pytest_parity.model import (
    Evidence,
    GateResult,
    Invariant,
    Milestone,
    ParityError,
    Registry,
    Waiver,
    report_timestamp,
)
from pytest_parity.reader import read_report
from pytest_parity.report import build_report, write_report, xml_safe

if TYPE_CHECKING:
    import xmlschema

from .conftest import (
    COMMON,
    HOSTILE,
    TS,
    TS_TEXT,
    build,
    case,
    gate,
    mixed_evidence,
    mixed_records,
    parse,
    rec,
    res,
    suite_props,
    write,
)

# -- the document ---------------------------------------------------------------------------


def test_mixed_report_is_schema_valid(tmp_path: Path, schema: xmlschema.XMLSchema) -> None:
    path = write(tmp_path, g=gate())
    schema.validate(str(path))
    assert schema.is_valid(str(path))


def test_declaration_and_encoding() -> None:
    data = build()
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<testsuites ")
    data.decode("utf-8")  # raises if it is not UTF-8


def test_one_suite_per_milestone_in_declared_order() -> None:
    root = parse(build())
    assert root.tag == "testsuites"
    assert root.get("name") == "pytest-parity"
    assert [s.get("name") for s in root] == ["parity.M1", "parity.M2", "parity.M3"]


def test_one_testcase_per_invariant_in_declared_order() -> None:
    root = parse(build())
    cases = [(c.get("classname"), c.get("name"), c.get("time")) for c in root.iter("testcase")]
    assert cases == [
        ("parity.M1", "P-1", "0"),
        ("parity.M1", "P-FLAKY", "0"),
        ("parity.M1", "F-1", "0"),
        ("parity.M1", "X-1", "0"),
        ("parity.M2", "N-1", "0"),
        ("parity.M2", "W-1", "0"),
        ("parity.M2", "E-1", "0"),
        ("parity.M2", "E-2", "0"),
    ]


def gated(evidence: Evidence | None = None) -> bytes:
    """The report with a gate on every milestone: what is not proven is a failure."""
    evidence = evidence or mixed_evidence()
    return build(evidence, decide_gate(evidence, "all"))


def counts(root: ET.Element) -> list[tuple[str | None, ...]]:
    return [(s.get("tests"), s.get("failures"), s.get("errors"), s.get("skipped")) for s in root]


def test_counts_without_a_gate_nothing_fails() -> None:
    root = parse(build())
    assert counts(root) == [("4", "0", "0", "2"), ("4", "0", "0", "4"), ("0", "0", "0", "0")]
    assert root.get("failures") == "0"
    skipped = case(root, "F-1").find("skipped")
    assert skipped is not None
    assert skipped.get("type") == "parity.failed"
    assert skipped.get("message", "").startswith("not gated: 1 test failed")


def test_counts() -> None:
    root = parse(gated())
    m1, m2, m3, gate_suite = root
    assert counts(root) == [
        ("4", "2", "0", "0"),
        ("4", "3", "0", "1"),
        ("0", "0", "0", "0"),
        ("1", "1", "0", "0"),
    ]
    for suite in (m1, m2, m3, gate_suite):
        assert suite.get("time") == "0"
        assert suite.get("timestamp") == TS_TEXT
        assert suite.get("hostname") is None
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "")) == len(cases)
        assert int(suite.get("failures", "")) == len(suite.findall("testcase/failure"))
        assert int(suite.get("skipped", "")) == len(suite.findall("testcase/skipped"))
    assert dict(root.attrib) == {
        "name": "pytest-parity",
        "tests": "9",
        "failures": "6",
        "errors": "0",
    }


def test_empty_milestone_gets_an_empty_suite(schema: xmlschema.XMLSchema) -> None:
    root = parse(build())
    m3 = root[2]
    assert m3.findall("testcase") == []
    assert ("parity.milestone.title", "Later") in suite_props(m3)
    reg = Registry([Milestone("ONLY")])
    data = build(Evidence(reg, {}, {}))
    schema.validate(data.decode("utf-8"))
    assert [s.get("name") for s in parse(data)] == ["parity.ONLY"]


def test_proven_lists_proving_tests_in_system_out() -> None:
    p1 = case(parse(gated()), "P-1")
    assert p1.find("failure") is None
    assert p1.find("skipped") is None
    out = (p1.findtext("system-out") or "").splitlines()
    assert out[0] == "P-1: Proven by two tests"
    assert "  passed  tests/test_p.py::test_a" in out
    assert "  passed  tests/test_p.py::test_b" in out
    assert out.index("  passed  tests/test_p.py::test_a") < out.index(
        "  passed  tests/test_p.py::test_b"
    )
    # other tests naming it, with their outcome, after the proving ones
    assert out[-1] == "  skipped tests/test_p.py::test_skip"
    assert "flaky" not in "\n".join(out)


def test_flaky_proof_says_flaky() -> None:
    out = case(parse(gated()), "P-FLAKY").findtext("system-out") or ""
    assert "  flaky   tests/test_flaky.py::test_retry" in out.splitlines()
    assert "note: a proof marked flaky passed only on a rerun" in out


def test_failed() -> None:
    f1 = case(parse(gated()), "F-1")
    failure = f1.find("failure")
    assert failure is not None
    assert failure.get("type") == "parity.failed"
    assert failure.get("message") == "1 test failed: tests/test_f.py::test_bad"
    body = (failure.text or "").splitlines()
    assert body[0] == "F-1: Failed"
    # the failing test first, then the passing one
    assert body[-2:] == [
        "  failed  tests/test_f.py::test_bad",
        "  passed  tests/test_f.py::test_good",
    ]
    assert f1.find("system-out") is None


def test_missing_names_the_globs_that_matched_nothing() -> None:
    failure = case(parse(gated()), "X-1").find("failure")
    assert failure is not None
    assert failure.get("type") == "parity.missing"
    assert failure.get("message") == "no collected test names it"
    body = failure.text or ""
    assert "no collected test names it" in body
    assert body.splitlines()[-3:] == [
        "`tests` globs that matched nothing:",
        "  tests/nothing_*.py::*",
        "  tests/none.py",
    ]


def test_missing_without_globs() -> None:
    reg = Registry([Milestone("M1")])
    reg.add(Invariant("A", "M1", "Alone"))
    evidence = Evidence(reg, {"A": res(reg, "A", "missing", "nothing", [])}, {})
    failure = case(parse(gated(evidence)), "A").find("failure")
    assert failure is not None
    assert "globs" not in (failure.text or "")
    assert "no collected test names it" in (failure.text or "")


def test_not_run_names_the_tests_and_their_outcomes() -> None:
    failure = case(parse(gated()), "N-1").find("failure")
    assert failure is not None
    assert failure.get("type") == "parity.not-run"
    assert failure.get("message") == "0 of 2 needed tests passed"
    body = (failure.text or "").splitlines()
    assert "tests naming it (2, min_tests = 2):" in body
    assert "  not-run tests/test_n.py::test_deselected" in body
    assert "  skipped tests/test_n.py::test_skip" in body


def test_waived() -> None:
    w1 = case(parse(gated()), "W-1")
    skipped = w1.find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "waived: ADR-12 (until 2099-12-31)"
    assert w1.find("failure") is None
    assert (skipped.text or "").startswith("W-1: Waived")


def test_waived_lists_tests_naming_it() -> None:
    reg = Registry([Milestone("M1")])
    reg.add(Invariant("W", "M1", "Waived", waiver=Waiver("later", dt.date(2099, 1, 1))))
    records = [rec("t.py::test_w", "skipped", "W")]
    evidence = Evidence(reg, {"W": res(reg, "W", "waived", "waived", records)}, {})
    skipped = case(parse(gated(evidence)), "W").find("skipped")
    assert skipped is not None
    assert "  skipped t.py::test_w" in (skipped.text or "").splitlines()


def test_waived_status_without_a_waiver_uses_the_reason() -> None:
    reg = Registry([Milestone("M1")])
    reg.add(Invariant("W", "M1", "Waived by a hook"))
    evidence = Evidence(reg, {"W": res(reg, "W", "waived", "hook said so", [])}, {})
    skipped = case(parse(gated(evidence)), "W").find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "waived: hook said so"


def test_expired_waiver_says_expired() -> None:
    root = parse(gated())
    e1 = case(root, "E-1").find("failure")
    e2 = case(root, "E-2").find("failure")
    assert e1 is not None
    assert e2 is not None
    # the reason already says it: kept as it is
    assert e1.get("message") == "no collected test names it; waiver expired on 2020-01-01 (ADR-1)"
    assert e1.get("type") == "parity.missing"
    # the reason does not: the report adds it
    assert e2.get("message") == "0 of 1 needed tests passed (waiver expired on 2020-01-02)"
    assert e2.get("type") == "parity.not-run"
    assert "waiver expired: ADR-2 (until 2020-01-02)" in (e2.text or "")


def test_proven_despite_an_expired_waiver() -> None:
    reg = Registry([Milestone("M1")])
    reg.add(Invariant("A", "M1", "A", waiver=Waiver("old", dt.date(2020, 1, 1))))
    records = [rec("t.py::test_a", "passed", "A")]
    result = res(reg, "A", "proven", "", records, expired=True)
    a = case(parse(gated(Evidence(reg, {"A": result}, {}))), "A")
    assert a.find("failure") is None
    out = (a.findtext("system-out") or "").splitlines()
    assert out[:2] == ["A: A", "waiver expired: old (until 2020-01-01)"]


def test_failure_without_a_reason_uses_the_status() -> None:
    reg = Registry([Milestone("M1")])
    reg.add(Invariant("A", "M1", "A"))
    records = [rec("t.py::test_a", "failed", "A")]
    evidence = Evidence(reg, {"A": res(reg, "A", "failed", "", records)}, {})
    failure = case(parse(gated(evidence)), "A").find("failure")
    assert failure is not None
    assert failure.get("message") == "failed"


def test_message_keeps_line_breaks_and_tabs() -> None:
    reg = Registry([Milestone("M1")])
    reg.add(Invariant("A", "M1", "A"))
    reason = "first line\n\tsecond line\r\nthird"
    evidence = Evidence(reg, {"A": res(reg, "A", "missing", reason, [])}, {})
    data = gated(evidence)
    assert b'message="first line&#10;&#09;second line&#13;&#10;third"' in data
    failure = case(parse(data), "A").find("failure")
    assert failure is not None
    assert failure.get("message") == reason


def test_atomic_output_takes_what_is_written_in_pieces(tmp_path: Path) -> None:
    path = tmp_path / "doc"
    with atomic_output(path) as fh:
        fh.write(b"ab")
        assert not path.exists()  # nothing shows until the block ends
        fh.write(b"c")
    assert path.read_bytes() == b"abc"


# -- properties ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("g", "scope", "result"),
    [
        (None, "none", "none"),
        (gate(passed=True), "M2", "passed"),
        (gate(passed=False), "M2", "failed"),
        (gate(passed=False, not_evaluated="--collect-only"), "M2", "not-evaluated"),
    ],
)
def test_provenance_in_every_suite(g: GateResult | None, scope: str, result: str) -> None:
    evidence = mixed_evidence()
    root = parse(build(evidence, g))
    titles = ["Execution invariants", "", "Later"] + (["gate"] if g is not None else [])
    for suite, title in zip(root, titles, strict=True):
        props = suite_props(suite)
        assert props[:7] == [
            ("parity.format", "2"),
            ("parity.version", __version__),
            ("parity.registry.sha256", evidence.registry.sha256()),
            ("parity.gate", scope),
            ("parity.gate.result", result),
            ("parity.flaky", "allow"),
            ("parity.timestamp", TS_TEXT),
        ]
        if title != "gate":
            assert props[7] == ("parity.milestone.title", title)
        assert "parity.incomplete" not in dict(props)


def test_incomplete_is_recorded_only_when_set() -> None:
    root = parse(build(mixed_evidence(incomplete="stopped early (-x)")))
    for suite in root:
        assert dict(suite_props(suite))["parity.incomplete"] == "stopped early (-x)"
        assert [name for name, _ in suite_props(suite)][8] == "parity.incomplete"


def test_first_suite_carries_the_machine_readable_evidence() -> None:
    evidence = mixed_evidence()
    evidence.registry.invariants["P-1"] = dataclasses.replace(
        evidence.registry.invariants["P-1"], line=7
    )
    root = parse(build(evidence))
    props = suite_props(root[0])
    names = [name for name, _ in props]
    assert names == [*COMMON, "parity.registry", "parity.invariants", "parity.tests"]
    values = dict(props)
    assert json.loads(values["parity.registry"]) == evidence.registry.to_data()
    invariants = json.loads(values["parity.invariants"])
    assert list(invariants) == list(evidence.registry.invariants)
    assert invariants["P-1"] == {
        "sha256": evidence.registry.invariants["P-1"].content_sha256,
        "line": 7,
    }
    expected = sorted(mixed_records(), key=lambda r: r.nodeid)
    assert json.loads(values["parity.tests"]) == [
        [r.nodeid, r.outcome, list(r.invariants), list(r.milestones), r.reason, r.file, r.line]
        for r in expected
    ]
    for suite in root[1:]:
        assert [name for name, _ in suite_props(suite)] == COMMON


def test_the_gate_has_a_test_case_of_its_own() -> None:
    evidence = mixed_evidence()
    failed = parse(build(evidence, decide_gate(evidence, "M1")))[-1]
    assert (failed.get("name"), failed.get("tests"), failed.get("failures")) == (
        "parity.gate",
        "1",
        "1",
    )
    (gate_case,) = failed.findall("testcase")
    assert (gate_case.get("classname"), gate_case.get("name")) == ("parity.gate", "M1")
    failure = gate_case.find("failure")
    assert failure is not None
    assert failure.get("type") == "parity.gate"
    assert failure.get("message") == "2 invariants not proven"
    assert "F-1 [M1] failed: 1 test failed: tests/test_f.py::test_bad" in (failure.text or "")
    assert "X-1 [M1] missing: no collected test names it" in (failure.text or "")
    m2 = parse(build(evidence, decide_gate(evidence, "M1")))[1]
    assert m2.get("failures") == "0"  # outside the gate's scope: not gated
    evidence.incomplete = "stopped early (-x)"
    skipped = parse(build(evidence, decide_gate(evidence, "M1")))[-1].find("testcase/skipped")
    assert skipped is not None
    assert (skipped.get("type"), skipped.get("message")) == (
        "parity.not-evaluated",
        "stopped early (-x)",
    )
    passed = Evidence(evidence.registry, {}, {})
    passing = GateResult("all", ("M1", "M2", "M3"), True, (), ())
    passed_case = parse(build(passed, passing))[-1].find("testcase")
    assert passed_case is not None
    assert passed_case.find("failure") is None
    assert passed_case.find("skipped") is None


# -- determinism and timestamps --------------------------------------------------------------


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    first = build(mixed_evidence(), gate())
    assert build(mixed_evidence(), gate()) == first
    # the order in which tests were recorded (xdist) does not matter
    shuffled = mixed_evidence()
    shuffled.records = dict(reversed(list(shuffled.records.items())))
    assert build(shuffled, gate()) == first
    a = tmp_path / "a.xml"
    b = tmp_path / "b.xml"
    write_report(a, mixed_evidence(), gate(), timestamp=TS)
    write_report(b, shuffled, gate(), timestamp=TS)
    assert a.read_bytes() == b.read_bytes() == first


@pytest.mark.parametrize(
    "timestamp",
    [
        TS.replace(microsecond=987654),
        TS.replace(tzinfo=None),  # naive: taken as UTC
        TS.astimezone(dt.timezone(dt.timedelta(hours=2))),
    ],
)
def test_timestamp_is_utc_to_the_second(timestamp: dt.datetime) -> None:
    out = io.BytesIO()
    build_report(mixed_evidence(), None, timestamp).write(out)
    root = parse(out.getvalue())
    for suite in root:
        assert suite.get("timestamp") == TS_TEXT
        assert dict(suite_props(suite))["parity.timestamp"] == TS_TEXT


def test_source_date_epoch_fixes_the_timestamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert report_timestamp() == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.timezone.utc)
    a = tmp_path / "a.xml"
    b = tmp_path / "b.xml"
    write_report(a, mixed_evidence(), None)
    write_report(b, mixed_evidence(), None)
    assert a.read_bytes() == b.read_bytes()
    assert ET.parse(a).getroot()[0].get("timestamp") == "2023-11-14T22:13:20+00:00"


@pytest.mark.parametrize("value", [None, ""])
def test_report_timestamp_is_now_without_source_date_epoch(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    else:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    before = dt.datetime.now(dt.timezone.utc)
    stamp = report_timestamp()
    after = dt.datetime.now(dt.timezone.utc)
    assert stamp.utcoffset() == dt.timedelta(0)
    assert before <= stamp <= after


def test_source_date_epoch_may_have_surrounding_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", " 0\n")
    assert report_timestamp() == dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    "value", ["abc", "-1", "1.5", "1e9", "0x10", "99999999999999999999", "١٢٣", " "]
)
def test_bad_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    with pytest.raises(ParityError) as info:
        report_timestamp()
    assert str(info.value).startswith("SOURCE_DATE_EPOCH: ")
    assert repr(value) in str(info.value)
    with pytest.raises(ParityError):
        write_report(tmp_path / "report.xml", mixed_evidence(), None)
    assert os.listdir(tmp_path) == []


# -- writing atomically ---------------------------------------------------------------------


def test_missing_parent_directories_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "report.xml"
    write_report(str(path), mixed_evidence(), None, timestamp=TS)
    assert path.read_bytes() == build()
    assert os.listdir(path.parent) == ["report.xml"]


def test_existing_report_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "report.xml"
    path.write_text("old")
    write_report(path, mixed_evidence(), None, timestamp=TS)
    assert path.read_bytes() == build()
    assert os.listdir(tmp_path) == ["report.xml"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_report_mode_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        path = write(tmp_path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_failed_write_leaves_the_old_report_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = tmp_path / "report.xml"
    path.write_text("old report")

    def boom(*args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(ParityError) as info:
        write_report(path, mixed_evidence(), None, timestamp=TS)
    monkeypatch.undo()
    assert str(info.value) == f"{path}: cannot write the evidence report: Permission denied"
    assert path.read_text() == "old report"
    assert os.listdir(tmp_path) == ["report.xml"]


def test_interrupted_write_cleans_up_and_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_report(tmp_path / "report.xml", mixed_evidence(), None, timestamp=TS)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_target_is_a_directory(tmp_path: Path) -> None:
    target = tmp_path / "report.xml"
    target.mkdir()
    (target / "keep").write_text("x")
    with pytest.raises(ParityError) as info:
        write_report(target, mixed_evidence(), None, timestamp=TS)
    assert str(info.value).startswith(f"{target}: cannot write the evidence report: ")
    assert os.listdir(tmp_path) == ["report.xml"]
    assert os.listdir(target) == ["keep"]


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "report.xml"
    with pytest.raises(ParityError, match="cannot write the evidence report"):
        write_report(target, mixed_evidence(), None, timestamp=TS)
    assert (tmp_path / "file").read_text() == "x"


# -- hostile text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("plain", "plain"),
        ("\x00", "\\x00"),
        ("a\x1bb", "a\\x1bb"),
        ("\x08\x0b\x0c\x0e\x1f", "\\x08\\x0b\\x0c\\x0e\\x1f"),
        ("\ud800x\udfff", "\\ud800x\\udfff"),
        ("\ufffe\uffff", "\\ufffe\\uffff"),
        ("\t\n\r", "\t\n\r"),
        ("\x7f\x85é中😀\ufffd", "\x7f\x85é中😀\ufffd"),
    ],
)
def test_xml_safe(text: str, safe: str) -> None:
    assert xml_safe(text) == safe


def hostile_evidence() -> Evidence:
    reg = Registry([Milestone("M1", f"milestone {HOSTILE}")], source="x")
    reg.add(
        Invariant(
            "H-1",
            "M1",
            f"title {HOSTILE}\r\nsecond line\ttab",
            tests=(f"tests/glob_{HOSTILE}*",),
        )
    )
    reg.add(Invariant("H-2", "M1", f"proven {HOSTILE}"))
    reg.add(Invariant("H-3", "M1", "waived", waiver=Waiver(f"why {HOSTILE}", dt.date(2099, 1, 1))))
    ids = [
        f"tests/test_h.py::test_x[{HOSTILE}]",
        "tests/test_h.py::test_x[\r\n]",
        "tests/test_é.py::test_ok[😀]",
    ]
    records = [
        rec(ids[0], "failed", "H-1"),
        rec(ids[1], "passed", "H-1", "H-2"),
        rec(ids[2], "passed", "H-2"),
    ]
    results = [
        res(reg, "H-1", "failed", f"failed: {HOSTILE}", records),
        res(reg, "H-2", "proven", f"proven {HOSTILE}", records),
        res(reg, "H-3", "waived", "waived", records),
    ]
    return Evidence(
        reg,
        {r.invariant.id: r for r in results},
        {r.nodeid: r for r in records},
        incomplete=f"incomplete {HOSTILE}",
    )


def test_hostile_text_is_made_xml_safe(tmp_path: Path, schema: xmlschema.XMLSchema) -> None:
    evidence = hostile_evidence()
    path = write(tmp_path, evidence, gate())
    data = path.read_bytes()
    data.decode("utf-8")
    assert b"]]>" not in data
    schema.validate(str(path))
    root = ET.parse(path).getroot()
    visible = "\\x00\\x1b\\ud800\\ufffe]]>&<>\"' é中😀"
    failure = case(root, "H-1").find("failure")
    assert failure is not None
    assert failure.get("message") == f"failed: {visible}"
    body = failure.text or ""
    # a raw CR in text is read back as a line break, as XML parsers do
    assert f"H-1: title {visible}\nsecond line\ttab" in body
    assert f"  failed  tests/test_h.py::test_x[{visible}]" in body
    assert f"  tests/glob_{visible}*" not in body  # tests name it: not "missing"
    out = case(root, "H-2").findtext("system-out") or ""
    assert "  passed  tests/test_é.py::test_ok[😀]" in out
    skipped = case(root, "H-3").find("skipped")
    assert skipped is not None
    assert skipped.get("message") == f"waived: why {visible} (until 2099-01-01)"
    props = dict(suite_props(root[0]))
    assert props["parity.milestone.title"] == f"milestone {visible}"
    assert props["parity.incomplete"] == f"incomplete {visible}"
    # the machine-readable evidence is lossless
    loaded = read_report(path)
    assert loaded.registry.to_data() == evidence.registry.to_data()
    assert [r.nodeid for r in loaded.records] == sorted(evidence.records)
    assert loaded.records == tuple(evidence.records[n] for n in sorted(evidence.records))
    assert loaded.incomplete == f"incomplete {visible}"


def test_hostile_milestone_id_in_attributes(schema: xmlschema.XMLSchema) -> None:
    # milestone IDs are validated by the registry loader; the report copes anyway
    reg = Registry([Milestone('M"<\x00>')])
    reg.add(Invariant("A", 'M"<\x00>', "A"))
    evidence = Evidence(reg, {"A": res(reg, "A", "missing", "none", [])}, {})
    data = build(evidence)
    schema.validate(data.decode("utf-8"))
    assert parse(data)[0].get("name") == 'parity.M"<\\x00>'


def test_a_waiver_about_to_expire_is_noted_in_its_skipped_case() -> None:
    reg = Registry(milestones=[Milestone("M1")])
    reg.add(Invariant("W", "M1", "w", waiver=Waiver("ADR-9", dt.date(2025, 1, 3))))
    evidence = evaluate(reg, {}, today=dt.date(2025, 1, 1))
    skipped = case(parse(build(evidence)), "W").find("skipped")
    assert skipped is not None
    assert "note: the waiver expires on 2025-01-03 (in 2 days)" in (skipped.text or "")
