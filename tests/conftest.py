"""Helpers shared by the test modules: pytester runs, and evidence built by hand."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import xmlschema

from pytest_parity.evidence import evaluate
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
from pytest_parity.reader import LoadedReport, read_report
from pytest_parity.report import build_report, write_report

if TYPE_CHECKING:
    from collections.abc import Iterable

#: three milestones, two invariants in M1, one in M2, none in M3
REGISTRY = """
milestones = [{ id = "M1", title = "Execution" }, "M2", "M3"]

[invariants.RUNKEY-01]
milestone = "M1"
title = "A duplicate run_key returns the existing run"

[invariants.RUNKEY-02]
milestone = "M1"
title = "A fingerprint mismatch is a conflict"

[invariants."timer.dedupe"]
milestone = "M2"
title = "Timer events are deduplicated by timer_id"
"""

#: one milestone, one invariant: the smallest registry a false green can hide in
ONE_INVARIANT = """
milestones = ["M1"]
[invariants.A]
milestone = "M1"
title = "a"
"""

XDIST = pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])


def run(pytester: pytest.Pytester, *args: str, xdist: bool = False) -> pytest.RunResult:
    """``pytest ARGS`` in-process, in collection order (``-n 2`` with ``xdist``)."""
    extra = ("-n", "2") if xdist else ()
    return pytester.runpytest(*extra, "-p", "no:randomly", *args)


@pytest.fixture
def reg(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", parity=REGISTRY)
    return pytester


@pytest.fixture
def one(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", parity=ONE_INVARIANT)
    return pytester


def esc(text: str) -> str:
    """Escape fnmatch's character classes: ``[`` is literal in our summary lines."""
    return text.replace("[", "[[]")


RunAndParse = Callable[..., tuple[pytest.RunResult, "LoadedReport"]]


@pytest.fixture
def run_and_parse(pytester: pytest.Pytester, schema: xmlschema.XMLSchema) -> RunAndParse:
    """``run(pytester, *args, --parity-report=...)``, the report validated against the
    schema (as pytest's own junitxml tests do), then read back."""

    def run_and_parse(*args: str, xdist: bool = False) -> tuple[pytest.RunResult, LoadedReport]:
        path = pytester.path / "parity-report.xml"
        result = run(pytester, *args, f"--parity-report={path}", xdist=xdist)
        schema.validate(str(path))
        return result, read_report(path)

    return run_and_parse


def parity_lines(result: pytest.RunResult) -> list[str]:
    """The lines of the parity section of the terminal summary."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.match(r"^=+ parity =+$", line))
    out = []
    for line in lines[start + 1 :]:
        if line.startswith("==="):
            break
        out.append(line)
    return out


# -- evidence built by hand ------------------------------------------------------------

XSD = Path(__file__).parent / "data" / "junit-10.xsd"
TS = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
TS_TEXT = "2024-05-06T07:08:09+00:00"
COMMON = [
    "parity.format",
    "parity.version",
    "parity.registry.sha256",
    "parity.gate",
    "parity.gate.result",
    "parity.flaky",
    "parity.timestamp",
    "parity.milestone.title",
]
HOSTILE = "\x00\x1b\ud800\ufffe]]>&<>\"' é中😀"


def rec(
    nodeid: str,
    outcome: Outcome,
    *invariants: str,
    milestones: tuple[str, ...] = (),
    reason: str = "",
) -> TestRecord:
    return TestRecord(nodeid, outcome, tuple(sorted(invariants)), milestones, reason)


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


@pytest.fixture(scope="session")
def schema() -> xmlschema.XMLSchema:
    """junit-10.xsd, the schema pytest and Jenkins' xunit plugin validate against."""
    return xmlschema.XMLSchema(str(XSD))


def big_evidence(n: int) -> Evidence:
    """``n`` invariants over two milestones, each named by one test (every third failed)."""

    reg = Registry(milestones=[Milestone("M1", "one"), Milestone("M2", "two")])
    records: dict[str, TestRecord] = {}
    for i in range(n):
        reg.add(Invariant(f"B-{i}", "M1" if i % 2 else "M2", f"big {i}"))
        nodeid = f"tests/test_b.py::test_{i}"
        records[nodeid] = TestRecord(nodeid, "failed" if i % 3 == 0 else "passed", (f"B-{i}",))
    return evaluate(reg, records, today=dt.date(2025, 1, 1))


def build(evidence: Evidence | None = None, g: GateResult | None = None) -> bytes:
    """The bytes of an evidence report (the mixed one by default)."""
    out = io.BytesIO()
    build_report(evidence or mixed_evidence(), g, TS).write(out)
    return out.getvalue()


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


def as_format_1(root: ET.Element) -> None:
    """Turn a report into what format 1 wrote: one ``parity.test`` property per test,
    ``[nodeid, outcome, [invariants], [milestones]]``, and no ``parity.tests``,
    ``parity.invariants`` or ``parity.format``."""
    tests = json.loads(first_prop(root, "parity.tests").get("value", ""))
    for suite in root.iter("testsuite"):
        props = suite.find("properties")
        assert props is not None
        for prop in list(props):
            if prop.get("name") in ("parity.tests", "parity.invariants", "parity.format"):
                props.remove(prop)
    first = root[0].find("properties")
    assert first is not None
    for test in tests:
        ET.SubElement(first, "property", name="parity.test", value=json.dumps(test[:4]))


def billion_laughs(body: str) -> str:
    """An XML bomb: ``body`` after a DTD whose entity ``&lol9;`` expands to 10**9 "lol"s
    (readers must refuse the DTD, never expand it)."""
    entities = ['<!ENTITY lol "lol">']
    for level in range(1, 10):
        previous = "lol" if level == 1 else f"lol{level - 1}"
        entities.append(f'<!ENTITY lol{level} "{f"&{previous};" * 10}">')
    return '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n ' + "\n ".join(entities) + "\n]>\n" + body
