"""The JUnit-XML evidence report: building, writing and reading back (pure unit tests)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import socket
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import xmlschema

from pytest_parity import __version__, report
from pytest_parity.files import atomic_write
from pytest_parity.model import (
    Evidence,
    GateResult,
    Invariant,
    InvariantResult,
    Milestone,
    Outcome,
    ParityError,
    Registry,
    Status,
    TestRecord,
    Waiver,
)
from pytest_parity.report import (
    LoadedReport,
    build_report_xml,
    read_report,
    report_timestamp,
    write_report,
    xml_safe,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

XSD = Path(__file__).parent / "data" / "junit-10.xsd"
TS = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
TS_TEXT = "2024-05-06T07:08:09+00:00"
COMMON = [
    "parity.version",
    "parity.registry.sha256",
    "parity.gate",
    "parity.gate.result",
    "parity.flaky",
    "parity.timestamp",
    "parity.milestone.title",
]
HOSTILE = "\x00\x1b\ud800\ufffe]]>&<>\"' é中😀"


# -- building evidence by hand --------------------------------------------------------------


def rec(
    nodeid: str,
    outcome: Outcome,
    *invariants: str,
    milestones: tuple[str, ...] = (),
) -> TestRecord:
    return TestRecord(nodeid, outcome, tuple(sorted(invariants)), milestones)


def res(
    registry: Registry,
    inv_id: str,
    status: Status,
    reason: str,
    records: Iterable[TestRecord],
    *,
    expired: bool = False,
) -> InvariantResult:
    tests = tuple(sorted((r for r in records if inv_id in r.invariants), key=lambda r: r.nodeid))
    return InvariantResult(registry.invariants[inv_id], status, reason, tests, expired)


def mixed_registry() -> Registry:
    reg = Registry(
        [Milestone("M1", "Execution invariants"), Milestone("M2"), Milestone("M3", "Later")],
        source="parity.toml",
    )
    reg.add(Invariant("P-1", "M1", "Proven by two tests"))
    reg.add(Invariant("P-FLAKY", "M1", "Proven by a flaky test"))
    reg.add(Invariant("F-1", "M1", "Failed", tests=("tests/test_f.py::*",)))
    reg.add(Invariant("X-1", "M1", "Missing", tests=("tests/nothing_*.py::*", "tests/none.py")))
    reg.add(Invariant("N-1", "M2", "Not run", min_tests=2))
    reg.add(Invariant("W-1", "M2", "Waived", waiver=Waiver("ADR-12", dt.date(2099, 12, 31))))
    reg.add(Invariant("E-1", "M2", "Expired, said", waiver=Waiver("ADR-1", dt.date(2020, 1, 1))))
    reg.add(Invariant("E-2", "M2", "Expired, unsaid", waiver=Waiver("ADR-2", dt.date(2020, 1, 2))))
    return reg


def mixed_records() -> list[TestRecord]:
    return [
        rec("tests/test_p.py::test_b", "passed", "P-1"),
        rec("tests/test_p.py::test_a", "passed", "P-1"),
        rec("tests/test_p.py::test_skip", "skipped", "P-1"),
        rec("tests/test_flaky.py::test_retry", "flaky", "P-FLAKY"),
        rec("tests/test_f.py::test_bad", "failed", "F-1"),
        rec("tests/test_f.py::test_good", "passed", "F-1"),
        rec("tests/test_n.py::test_skip", "skipped", "N-1"),
        rec("tests/test_n.py::test_deselected", "not-run", "N-1"),
        rec("tests/test_e.py::test_e2", "skipped", "E-2"),
        rec("tests/test_suite.py::test_m2", "passed", milestones=("M2",)),
    ]


def mixed_evidence(incomplete: str | None = None) -> Evidence:
    reg = mixed_registry()
    records = mixed_records()
    results = [
        res(reg, "P-1", "proven", "proven by 2 passing tests", records),
        res(reg, "P-FLAKY", "proven", "proven by 1 passing test (1 flaky)", records),
        res(reg, "F-1", "failed", "1 test failed: tests/test_f.py::test_bad", records),
        res(reg, "X-1", "missing", "no collected test names it", records),
        res(reg, "N-1", "not-run", "0 of 2 needed tests passed", records),
        res(reg, "W-1", "waived", "waived: ADR-12 (until 2099-12-31)", records),
        res(
            reg,
            "E-1",
            "missing",
            "no collected test names it; waiver expired on 2020-01-01 (ADR-1)",
            records,
            expired=True,
        ),
        res(reg, "E-2", "not-run", "0 of 1 needed tests passed", records, expired=True),
    ]
    return Evidence(
        registry=reg,
        results={r.invariant.id: r for r in results},
        records={r.nodeid: r for r in records},
        flaky="allow",
        today=dt.date(2024, 5, 6),
        incomplete=incomplete,
    )


def gate(passed: bool = False, not_evaluated: str | None = None) -> GateResult:
    return GateResult(
        scope="M2",
        milestones=("M1", "M2"),
        passed=passed,
        blocking=(),
        failed_suite_tests=(),
        not_evaluated=not_evaluated,
    )


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def big_evidence(n: int) -> Evidence:
    """``n`` invariants over two milestones, each named by one test (every third failed)."""
    from pytest_parity.evidence import evaluate

    reg = Registry(milestones=[Milestone("M1", "one"), Milestone("M2", "two")])
    records: dict[str, TestRecord] = {}
    for i in range(n):
        reg.add(Invariant(f"B-{i}", "M1" if i % 2 else "M2", f"big {i}"))
        nodeid = f"tests/test_b.py::test_{i}"
        records[nodeid] = TestRecord(nodeid, "failed" if i % 3 == 0 else "passed", (f"B-{i}",))
    return evaluate(reg, records, today=dt.date(2025, 1, 1))


def build(evidence: Evidence | None = None, g: GateResult | None = None) -> bytes:
    return build_report_xml(evidence or mixed_evidence(), g, timestamp=TS)


def parse(data: bytes) -> ET.Element:
    return ET.fromstring(data)


def suite_props(suite: ET.Element) -> list[tuple[str, str]]:
    return [(p.get("name", ""), p.get("value", "")) for p in suite.iterfind("properties/property")]


def case(root: ET.Element, inv_id: str) -> ET.Element:
    found = root.find(f"testsuite/testcase[@name='{inv_id}']")
    assert found is not None, inv_id
    return found


def write(tmp_path: Path, evidence: Evidence | None = None, g: GateResult | None = None) -> Path:
    path = tmp_path / "report.xml"
    write_report(path, evidence or mixed_evidence(), g, timestamp=TS)
    return path


def read_error(path: Path) -> str:
    with pytest.raises(ParityError) as info:
        read_report(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    return message


def mutated(tmp_path: Path, change: Callable[[ET.Element], None]) -> Path:
    """A valid report, changed by ``change``, re-serialized."""
    root = parse(build())
    change(root)
    path = tmp_path / "mutated.xml"
    path.write_bytes(ET.tostring(root, encoding="utf-8"))
    return path


def first_prop(root: ET.Element, name: str, index: int = 0) -> ET.Element:
    found = root.findall(f"testsuite/properties/property[@name='{name}']")
    return found[index]


# -- the document ---------------------------------------------------------------------------


def test_mixed_report_is_schema_valid(tmp_path: Path, schema: xmlschema.XMLSchema) -> None:
    path = write(tmp_path, g=gate())
    schema.validate(str(path))
    assert schema.is_valid(str(path))


def test_declaration_and_encoding() -> None:
    data = build()
    assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<testsuites ')
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


def test_counts() -> None:
    root = parse(build())
    m1, m2, m3 = root
    counts = [(s.get("tests"), s.get("failures"), s.get("errors"), s.get("skipped")) for s in root]
    assert counts == [("4", "2", "0", "0"), ("4", "3", "0", "1"), ("0", "0", "0", "0")]
    for suite in (m1, m2, m3):
        assert suite.get("time") == "0"
        assert suite.get("timestamp") == TS_TEXT
        assert suite.get("hostname") is None
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "")) == len(cases)
        assert int(suite.get("failures", "")) == len(suite.findall("testcase/failure"))
        assert int(suite.get("skipped", "")) == len(suite.findall("testcase/skipped"))
    assert dict(root.attrib) == {
        "name": "pytest-parity",
        "tests": "8",
        "failures": "5",
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
    p1 = case(parse(build()), "P-1")
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
    out = case(parse(build()), "P-FLAKY").findtext("system-out") or ""
    assert "  flaky   tests/test_flaky.py::test_retry" in out.splitlines()
    assert "1 flaky proof(s): passed only on a rerun" in out


def test_failed() -> None:
    f1 = case(parse(build()), "F-1")
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
    failure = case(parse(build()), "X-1").find("failure")
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
    failure = case(parse(build(evidence)), "A").find("failure")
    assert failure is not None
    assert "globs" not in (failure.text or "")
    assert "no collected test names it" in (failure.text or "")


def test_not_run_names_the_tests_and_their_outcomes() -> None:
    failure = case(parse(build()), "N-1").find("failure")
    assert failure is not None
    assert failure.get("type") == "parity.not-run"
    assert failure.get("message") == "0 of 2 needed tests passed"
    body = (failure.text or "").splitlines()
    assert "tests naming it (2, min_tests = 2):" in body
    assert "  not-run tests/test_n.py::test_deselected" in body
    assert "  skipped tests/test_n.py::test_skip" in body


def test_waived() -> None:
    w1 = case(parse(build()), "W-1")
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
    skipped = case(parse(build(evidence)), "W").find("skipped")
    assert skipped is not None
    assert "  skipped t.py::test_w" in (skipped.text or "").splitlines()


def test_waived_status_without_a_waiver_uses_the_reason() -> None:
    reg = Registry([Milestone("M1")])
    reg.add(Invariant("W", "M1", "Waived by a hook"))
    evidence = Evidence(reg, {"W": res(reg, "W", "waived", "hook said so", [])}, {})
    skipped = case(parse(build(evidence)), "W").find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "waived: hook said so"


def test_expired_waiver_says_expired() -> None:
    root = parse(build())
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
    a = case(parse(build(Evidence(reg, {"A": result}, {}))), "A")
    assert a.find("failure") is None
    out = (a.findtext("system-out") or "").splitlines()
    assert out[:2] == ["A: A", "waiver expired: old (until 2020-01-01)"]


def test_failure_without_a_reason_uses_the_status() -> None:
    reg = Registry([Milestone("M1")])
    reg.add(Invariant("A", "M1", "A"))
    records = [rec("t.py::test_a", "failed", "A")]
    evidence = Evidence(reg, {"A": res(reg, "A", "failed", "", records)}, {})
    failure = case(parse(build(evidence)), "A").find("failure")
    assert failure is not None
    assert failure.get("message") == "failed"


def test_message_keeps_line_breaks_and_tabs() -> None:
    reg = Registry([Milestone("M1")])
    reg.add(Invariant("A", "M1", "A"))
    reason = "first line\n\tsecond line\r\nthird"
    evidence = Evidence(reg, {"A": res(reg, "A", "missing", reason, [])}, {})
    data = build(evidence)
    assert b'message="first line&#10;&#9;second line&#13;&#10;third"' in data
    failure = case(parse(data), "A").find("failure")
    assert failure is not None
    assert failure.get("message") == reason


def test_evidence_without_a_result_is_refused(tmp_path: Path) -> None:
    evidence = mixed_evidence()
    del evidence.results["W-1"]
    with pytest.raises(ParityError, match="no result for invariant 'W-1'"):
        build(evidence)
    # found before anything is written: not even the report's directory is made
    with pytest.raises(ParityError, match="no result for invariant 'W-1'"):
        write_report(tmp_path / "out" / "report.xml", evidence, None, timestamp=TS)
    assert os.listdir(tmp_path) == []


def test_report_elements_are_built_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # only the test cases and the test block are rendered while the file is written
    def boom(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(report, "_registry_json_and_sha256", boom)
    with pytest.raises(RuntimeError, match="boom"):
        write_report(tmp_path / "out" / "report.xml", mixed_evidence(), None, timestamp=TS)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, list])
def test_atomic_write_takes_bytes_like_data_or_pieces(tmp_path: Path, kind: Any) -> None:
    path = tmp_path / "doc"
    data = kind([b"ab", b"", b"c"]) if kind is list else kind(b"abc")
    atomic_write(path, data)
    assert path.read_bytes() == b"abc"


@pytest.mark.parametrize("lines", [1, 2, 7])
def test_piece_boundaries_do_not_show_in_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: int
) -> None:
    # the report is rendered and written a few hundred lines at a time; where the pieces
    # end must not change a byte, in memory or on disk
    evidence = big_evidence(40)
    whole = build(evidence)
    assert whole.count(b"<testcase ") == 40
    monkeypatch.setattr(report, "_PIECE_LINES", lines)
    pieces = list(report._report_pieces(evidence, None, TS))
    assert len(pieces) > 40 // lines
    assert "".join(pieces).encode() == whole
    assert build(evidence) == whole
    assert write(tmp_path, evidence).read_bytes() == whole


def test_failure_while_streaming_keeps_the_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.xml"
    path.write_text("old report")
    monkeypatch.setattr(report, "_PIECE_LINES", 1)
    real = report._testcase
    seen: list[list[str]] = []

    def testcase(result: InvariantResult, classname: str) -> Any:
        seen.append(sorted(os.listdir(tmp_path)))
        if len(seen) == 3:  # pieces of the report are in the temporary file by now
            raise RuntimeError("boom")
        return real(result, classname)

    monkeypatch.setattr(report, "_testcase", testcase)
    with pytest.raises(RuntimeError, match="boom"):
        write_report(path, big_evidence(10), None, timestamp=TS)
    monkeypatch.undo()
    temp, old = seen[-1]
    assert temp.startswith(".report.xml.")
    assert temp.endswith(".tmp")
    assert old == "report.xml"
    assert path.read_text() == "old report"
    assert os.listdir(tmp_path) == ["report.xml"]


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
    titles = ["Execution invariants", "", "Later"]
    for suite, title in zip(root, titles, strict=True):
        props = suite_props(suite)
        assert props[:7] == [
            ("parity.version", __version__),
            ("parity.registry.sha256", evidence.registry.sha256()),
            ("parity.gate", scope),
            ("parity.gate.result", result),
            ("parity.flaky", "allow"),
            ("parity.timestamp", TS_TEXT),
            ("parity.milestone.title", title),
        ]
        assert "parity.incomplete" not in dict(props)


def test_incomplete_is_recorded_only_when_set() -> None:
    root = parse(build(mixed_evidence(incomplete="stopped early (-x)")))
    for suite in root:
        assert dict(suite_props(suite))["parity.incomplete"] == "stopped early (-x)"
        assert [name for name, _ in suite_props(suite)][7] == "parity.incomplete"


def test_first_suite_carries_the_machine_readable_evidence() -> None:
    evidence = mixed_evidence()
    root = parse(build(evidence))
    props = suite_props(root[0])
    names = [name for name, _ in props]
    assert names[: len(COMMON) + 1] == [*COMMON, "parity.registry"]
    assert json.loads(dict(props)["parity.registry"]) == evidence.registry.to_data()
    tests = [json.loads(value) for name, value in props if name == "parity.test"]
    assert names[len(COMMON) + 1 :] == ["parity.test"] * len(evidence.records)
    expected = sorted(mixed_records(), key=lambda r: r.nodeid)
    assert tests == [
        [r.nodeid, r.outcome, list(r.invariants), list(r.milestones)] for r in expected
    ]
    for suite in root[1:]:
        assert [name for name, _ in suite_props(suite)] == COMMON


def _reference_test_block(records: list[TestRecord], indent: str) -> str:
    """The test block rendered the plain way: each value with json.dumps, escaped for a
    double-quoted attribute (ASCII JSON never holds a raw newline, tab or CR)."""
    lines = []
    for r in records:
        value = json.dumps(
            [r.nodeid, r.outcome, list(r.invariants), list(r.milestones)],
            ensure_ascii=True,
            separators=(",", ":"),
        )
        for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
            value = value.replace(char, entity)
        lines.append(f'{indent}<property name="parity.test" value="{value}"/>\n')
    return "".join(lines)


@pytest.mark.parametrize("seed", range(40))
def test_test_block_is_the_plain_json_rendering(seed: int) -> None:
    """Every way through the test block (chunks of plain node IDs with one outcome and no
    milestone=, with mixed outcomes or milestones, chunks that need escaping, chunk
    boundaries) writes exactly what json.dumps and attribute escaping would."""
    rnd = random.Random(seed)
    odd = ['"', "\\", "&", "<", ">", "\x7f", "\x01", "\n", "\t", "é", "\u2028", "'", " ", "]"]
    ids = [(f"I-{n}",) for n in range(7)] + [("I-1", "I-2"), ("A&B", "C<D")]
    outcomes: list[Outcome] = (
        ["passed"] if rnd.random() < 0.5 else ["passed", "failed", "flaky", "not-run"]
    )
    milestones = [()] if rnd.random() < 0.5 else [(), ("M1",), ("M1", "M2")]
    n = rnd.choice([1, 5, 1023, 1024, 1025, 2500])
    nodeids: set[str] = set()
    while len(nodeids) < n:
        nodeid = f"t_{rnd.randrange(10**6)}.py::test"
        if rnd.random() < (0.002 if seed % 2 else 0.0):
            nodeid += rnd.choice(odd)
        nodeids.add(nodeid)
    records = sorted(
        (
            TestRecord(nodeid, rnd.choice(outcomes), rnd.choice(ids), rnd.choice(milestones))
            for nodeid in nodeids
        ),
        key=lambda r: r.nodeid,
    )
    assert "".join(report._test_properties(records, "  ")) == _reference_test_block(records, "  ")


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
    root = parse(build_report_xml(mixed_evidence(), None, timestamp=timestamp))
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
    assert f"H-1: title {visible}\r\nsecond line\ttab" in body
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


# -- reading back --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("g", "expected"), [(None, None), (gate(), "M2"), (gate(not_evaluated="-x"), "M2")]
)
def test_round_trip(tmp_path: Path, g: GateResult | None, expected: str | None) -> None:
    evidence = mixed_evidence()
    path = write(tmp_path, evidence, g)
    loaded = read_report(path)
    assert isinstance(loaded, LoadedReport)
    assert loaded.path == str(path)
    assert loaded.registry.to_data() == evidence.registry.to_data()
    assert loaded.registry.source == str(path)
    assert loaded.registry_sha256 == evidence.registry.sha256() == loaded.registry.sha256()
    assert loaded.records == tuple(sorted(mixed_records(), key=lambda r: r.nodeid))
    assert loaded.flaky == "allow"
    assert loaded.gate == expected
    assert loaded.version == __version__
    assert loaded.incomplete is None


def test_round_trip_incomplete_and_a_gate_named_none(tmp_path: Path) -> None:
    reg = Registry([Milestone("none")])
    g = GateResult("none", ("none",), True, (), ())
    evidence = Evidence(reg, {}, {}, flaky="fail", incomplete="collect-only")
    loaded = read_report(write(tmp_path, evidence, g))
    assert loaded.gate == "none"
    assert loaded.flaky == "fail"
    assert loaded.incomplete == "collect-only"
    assert loaded.records == ()


def test_round_trip_of_a_large_report(tmp_path: Path) -> None:
    reg = Registry([Milestone("M1")])
    reg.add(Invariant("BIG", "M1", "many tests"))
    records = [rec(f"t.py::test_p[{i}]", "passed", "BIG") for i in range(5000)]
    result = res(reg, "BIG", "proven", "proven", records)
    evidence = Evidence(reg, {"BIG": result}, {r.nodeid: r for r in records})
    loaded = read_report(write(tmp_path, evidence))
    assert loaded.records == tuple(sorted(records, key=lambda r: r.nodeid))


def test_read_ignores_unrelated_suites_and_properties(tmp_path: Path) -> None:
    def change(root: ET.Element) -> None:
        extra = ET.SubElement(root, "testsuite", name="other", tests="0", failures="0")
        props = ET.SubElement(extra, "properties")
        ET.SubElement(props, "property", name="parity.test", value="ignored")
        ET.SubElement(props, "property", name="parity.version", value="ignored")
        ET.SubElement(props, "property", name="foo", value="bar")
        first = root[0].find("properties")
        assert first is not None
        ET.SubElement(first, "property", name="ci.job", value="42")
        ET.SubElement(root, "system-out").text = "not a suite"
        # a testcase-level property is not a suite property
        tc_props = ET.SubElement(root[0][1], "properties")
        ET.SubElement(tc_props, "property", name="parity.gate", value="twice?")

    loaded = read_report(mutated(tmp_path, change))
    assert loaded.records == tuple(sorted(mixed_records(), key=lambda r: r.nodeid))


# -- reading hostile or wrong input ------------------------------------------------------------


def test_read_missing_file(tmp_path: Path) -> None:
    assert "cannot read: No such file or directory" in read_error(tmp_path / "nope.xml")


def test_read_path_with_a_nul_byte() -> None:
    with pytest.raises(ParityError) as info:
        read_report("bad\x00.xml")
    # the OS error's wording differs between Python versions
    assert str(info.value).startswith("bad\x00.xml: cannot read: ")
    assert "null" in str(info.value)


def test_write_path_with_a_nul_byte() -> None:
    with pytest.raises(ParityError) as info:
        write_report("bad\x00.xml", mixed_evidence(), None, timestamp=TS)
    assert str(info.value).startswith("bad\x00.xml: cannot write the evidence report: ")
    assert "null" in str(info.value)


def test_read_directory(tmp_path: Path) -> None:
    assert "is a directory" in read_error(tmp_path)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_read_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # running as root
            pytest.skip("cannot make a file unreadable for this user")
        assert "cannot read: Permission denied" in read_error(path)
    finally:
        path.chmod(0o644)


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs UNIX sockets")
def test_read_a_socket(tmp_path: Path) -> None:
    # it exists, but cannot be opened as a file
    path = tmp_path / "r.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        assert "cannot read: " in read_error(path)


def test_read_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.xml"
    path.write_bytes(b"")
    assert read_error(path) == f"{path}: the file is empty"


@pytest.mark.parametrize(
    "content",
    [
        b"   \n",
        b"hello, world\n",
        b"\x00\xff\xfe\x00 garbage",
        b'{"json": true}',
        b"<testsuites><testsuite>",
        b"<testsuites>&foo;</testsuites>",
        b"<testsuites>&#0;</testsuites>",
        b"<testsuites/><second/>",
    ],
)
def test_read_not_xml(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.xml"
    path.write_bytes(content)
    assert "not well-formed XML (truncated, or not XML at all): " in read_error(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.99])
def test_read_truncated_report(tmp_path: Path, keep: float) -> None:
    data = build()
    path = tmp_path / "truncated.xml"
    path.write_bytes(data[: int(len(data) * keep)])
    assert "not well-formed XML" in read_error(path)


def test_read_unknown_encoding(tmp_path: Path) -> None:
    path = tmp_path / "enc.xml"
    path.write_bytes(b'<?xml version="1.0" encoding="x-bogus"?><testsuites/>')
    assert "cannot parse as XML: unknown encoding: x-bogus" in read_error(path)


PLAIN_PYTEST = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="0" skipped="0"
 tests="1" time="0.013" timestamp="2024-05-06T07:08:09.123456+00:00" hostname="ci">
<properties><property name="build" value="42"/></properties>
<testcase classname="tests.test_a" name="test_a" time="0.001"/></testsuite></testsuites>
"""


@pytest.mark.parametrize(
    "content",
    [
        PLAIN_PYTEST,
        PLAIN_PYTEST.replace(b'<properties><property name="build" value="42"/></properties>', b""),
        b"<testsuites/>",
        b'<testsuites><testsuite name="x" tests="0" failures="0" errors="0"/></testsuites>',
    ],
)
def test_read_plain_junit_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junit.xml"
    path.write_bytes(content)
    assert "not a pytest-parity evidence report" in read_error(path)


def test_read_other_root(tmp_path: Path) -> None:
    path = tmp_path / "suite.xml"
    path.write_bytes(b'<testsuite name="pytest" tests="0"/>')
    message = read_error(path)
    assert message == f"{path}: the root element is <testsuite>, not <testsuites>"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<testsuites name="&lol9;"/>
"""


@pytest.mark.parametrize(
    "content",
    [
        BILLION_LAUGHS,
        b'<?xml version="1.0"?>\n<!DOCTYPE testsuites [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"\n<testsuites>&xxe;</testsuites>",
        b'<!DOCTYPE testsuites SYSTEM "http://example.invalid/junit.dtd"><testsuites/>',
        b'<!DOCTYPE testsuites [<!ENTITY % p SYSTEM "http://example.invalid/p.dtd"> %p;]>'
        b"<testsuites/>",
        b"<!DOCTYPE testsuites><testsuites/>",
    ],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity", "doctype"],
)
def test_read_refuses_any_dtd(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "evil.xml"
    path.write_bytes(content)
    message = read_error(path)
    assert message == (f"{path}: refusing a document with a DTD (DOCTYPE or entity declarations)")


def test_read_refuses_a_dtd_in_an_otherwise_valid_report(tmp_path: Path) -> None:
    data = build().replace(
        b"\n<testsuites", b'\n<!DOCTYPE testsuites [<!ENTITY e "x">]>\n<testsuites', 1
    )
    path = tmp_path / "dtd.xml"
    path.write_bytes(data)
    assert "refusing a document with a DTD" in read_error(path)


def test_read_refuses_an_oversized_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path)
    monkeypatch.setattr(report, "MAX_REPORT_BYTES", 1000)
    assert read_error(path) == f"{path}: refusing a file larger than 1000 bytes"


def test_streaming_stops_at_the_size_limit() -> None:
    # a stream (a pipe, a file still growing) is cut off while it is read
    class Endless(io.RawIOBase):
        reads = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
            self.reads += 1
            data = b"<testsuites>" if self.reads == 1 else b" " * len(buffer)
            buffer[: len(data)] = data
            return len(data)

    stream = Endless()
    with pytest.raises(report._Refused, match="larger than 3000000 bytes"):
        report._parse(io.BufferedReader(stream), 3_000_000)
    assert stream.reads < 10


def set_value(name: str, value: str, index: int = 0) -> Callable[[ET.Element], None]:
    def change(root: ET.Element) -> None:
        first_prop(root, name, index).set("value", value)

    return change


def set_everywhere(name: str, value: str) -> Callable[[ET.Element], None]:
    def change(root: ET.Element) -> None:
        for prop in root.findall(f"testsuite/properties/property[@name='{name}']"):
            prop.set("value", value)

    return change


def remove(name: str) -> Callable[[ET.Element], None]:
    def change(root: ET.Element) -> None:
        props = root[0].find("properties")
        assert props is not None
        props.remove(first_prop(root, name))

    return change


def add_prop(name: str, **attrs: str) -> Callable[[ET.Element], None]:
    def change(root: ET.Element) -> None:
        props = root[0].find("properties")
        assert props is not None
        ET.SubElement(props, "property", {"name": name, **attrs})

    return change


def change_registry(root: ET.Element) -> None:
    prop = first_prop(root, "parity.registry")
    data = json.loads(prop.get("value", ""))
    data["invariants"][0]["title"] = "edited"
    prop.set("value", json.dumps(data))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            set_value("parity.registry", "{"),
            "corrupt evidence report: parity.registry is not valid JSON",
        ),
        (set_value("parity.registry", "[" * 100_000), "parity.registry is not valid JSON: '[[[["),
        (
            set_value("parity.registry", "[]"),
            "corrupt evidence report: parity.registry: expected a JSON object",
        ),
        (
            set_value("parity.registry", '{"milestones": 1}'),
            "parity.registry: invariants: expected",
        ),
        (
            set_value(
                "parity.registry",
                '{"milestones": [{"id": "M1", "title": ""}], '
                '"invariants": [{"id": "A", "milestone": "M9", "title": "t", "min_tests": 1, '
                '"tests": [], "waiver": null}]}',
            ),
            "'M9' is not a declared milestone",
        ),
        (
            change_registry,
            "corrupt evidence report: the embedded registry does not match its sha256",
        ),
        (
            set_everywhere("parity.registry.sha256", "0" * 64),
            "does not match its sha256 (stored '0000",
        ),
        (
            set_value("parity.registry.sha256", "1" * 64, 1),
            "its suites disagree on the registry hash",
        ),
        (remove("parity.version"), "corrupt evidence report: property parity.version is missing"),
        (remove("parity.registry"), "property parity.registry is missing"),
        (remove("parity.registry.sha256"), "property parity.registry.sha256 is missing"),
        (add_prop("parity.gate", value="all"), "property parity.gate appears twice"),
        (add_prop("parity.flaky"), "property parity.flaky has no value"),
        (
            set_value("parity.flaky", "maybe"),
            "parity.flaky is 'maybe', not one of ('fail', 'allow')",
        ),
        (set_value("parity.gate.result", "green"), "parity.gate.result is 'green'"),
        (set_value("parity.test", "[1, 2"), "parity.test #1 is not valid JSON: '[1, 2'"),
        (
            set_value("parity.test", "{}", 2),
            "parity.test #3 is not [nodeid, outcome, [invariants], [milestones]]",
        ),
        (set_value("parity.test", '["t.py::x", "passed", []]'), "is not [nodeid, outcome"),
        (set_value("parity.test", '[1, "passed", [], []]'), "is not [nodeid, outcome"),
        (set_value("parity.test", '["", "passed", [], []]'), "is not [nodeid, outcome"),
        (set_value("parity.test", '["t.py::x", 3, [], []]'), "is not [nodeid, outcome"),
        (set_value("parity.test", '["t.py::x", "passed", "P-1", []]'), "is not [nodeid, outcome"),
        (set_value("parity.test", '["t.py::x", "passed", [1], []]'), "is not [nodeid, outcome"),
        (set_value("parity.test", '["t.py::x", "passed", [], null]'), "is not [nodeid, outcome"),
        (
            set_value("parity.test", '["t.py::x", "exploded", [], []]'),
            "parity.test #1 (t.py::x): unknown outcome 'exploded'",
        ),
        (
            set_value("parity.test", '["t.py::x", "passed", ["NOPE"], []]'),
            "(t.py::x): undeclared invariant 'NOPE'",
        ),
        (
            set_value("parity.test", '["t.py::x", "passed", [], ["M9"]]'),
            "(t.py::x): undeclared milestone 'M9'",
        ),
        (
            set_value("parity.test", '["tests/test_f.py::test_good", "passed", [], []]'),
            "parity.test #3: test tests/test_f.py::test_good appears twice",
        ),
    ],
)
def test_read_corrupt_report(
    tmp_path: Path, change: Callable[[ET.Element], None], expected: str
) -> None:
    message = read_error(mutated(tmp_path, change))
    assert expected in message
    assert len(message) < 400


def test_read_value_is_shortened_in_messages(tmp_path: Path) -> None:
    message = read_error(mutated(tmp_path, set_value("parity.flaky", "x" * 1000)))
    assert "'xxxx" in message
    assert "x" * 100 not in message


def test_serializer_writes_childless_textless_elements_self_closing() -> None:
    import xml.etree.ElementTree as ET

    from pytest_parity.report import _AttributeRenderer, _render

    root = ET.Element("a", {"x": "1"})
    ET.SubElement(root, "b")
    ET.SubElement(root, "c", {"y": '"<&'}).text = "t<"
    out: list[str] = []
    _render(out, root, "", _AttributeRenderer())
    assert "".join(out) == '<a x="1">\n  <b/>\n  <c y="&quot;&lt;&amp;">t&lt;</c>\n</a>\n'


@pytest.mark.parametrize("seed", range(4))
def test_registry_json_and_hash_come_from_one_encoding(seed: int) -> None:
    # the report cuts the declared-order JSON into invariant objects at ',{"id":' and
    # reassembles them sorted by ID for the hash: titles, reasons and globs that spell
    # the cut must not move it, and both results must be what the slow path gives
    rng = random.Random(seed)
    tricky = [',{"id":', '},{"id":"Z"}', '"', "\\", "é ü 日本", "\u2028", "", "x"]
    milestones = [Milestone(f"M{n}", rng.choice(tricky)) for n in range(rng.randint(1, 3))]
    reg = Registry(milestones=milestones, source="parity.toml")
    ids = [f"INV-{n}" for n in range(rng.randint(0, 30))]
    rng.shuffle(ids)  # declared order is not ID order
    for inv_id in ids:
        waiver = Waiver(rng.choice(tricky), dt.date(2030, 1, 1)) if rng.random() < 0.3 else None
        reg.add(
            Invariant(
                inv_id,
                rng.choice(milestones).id,
                rng.choice(tricky) + "title",
                min_tests=rng.randint(1, 3),
                tests=tuple(rng.sample(tricky, rng.randint(0, 3))),
                waiver=waiver,
            )
        )
    data = reg.to_data()
    assert report._registry_json_and_sha256(data) == (report._JSON(data), reg.sha256())
